"""Where the chassis's time goes: one empty route served by variants built up step by step.

Each variant adds one part of the chassis to a bare Starlette app; the drop in requests/s
from the previous one is that part's cost. Same server as chassis_overhead.py (uvicorn,
uvloop, httptools, one worker), same wrk load, same run.

    .venv/bin/python benchmarks/chassis_parts.py [--seconds 5]

| variant | adds |
|---|---|
| bare | nothing: the peer |
| layer | one pure-ASGI middleware that wraps ``send`` |
| trace | a trace context per request, set in a contextvar |
| echo | the ``traceparent`` response header |
| telemetry | the chassis's whole TelemetryMiddleware (metrics, in-flight), no identity gate |
| chassis | the full chassis: identity gate, typed endpoint, error handlers |
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import _load
from chassis_overhead import IDENTITY, bare_app, chassis_app

VARIANTS = ("bare", "layer", "trace", "echo", "telemetry", "chassis")


def _layered(level: int) -> Any:
    """Bare Starlette behind a middleware doing the first ``level`` steps of the chassis's."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from matinee.platform.telemetry.tracing import TraceContext, reset_current, set_current

    class Layer:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            token, header = None, None
            if level >= 2:
                ctx = TraceContext.new()
                token = set_current(ctx)
            if level >= 3:
                header = (b"traceparent", ctx.to_header().encode())

            async def send_wrapper(message: Any) -> None:
                if header is not None and message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                if token is not None:
                    reset_current(token)

    return Starlette(routes=bare_app().routes, middleware=[Middleware(Layer)])


def build(kind: str) -> Any:
    """Return the app of one variant."""
    if kind == "bare":
        return bare_app()
    if kind == "chassis":
        return chassis_app()
    if kind == "telemetry":
        from starlette.applications import Starlette
        from starlette.middleware import Middleware

        from matinee.platform.telemetry.metrics import Metrics
        from matinee.platform.telemetry.middleware import TelemetryMiddleware

        return Starlette(
            routes=bare_app().routes,
            middleware=[Middleware(TelemetryMiddleware, metrics=Metrics())],
        )
    return _layered(VARIANTS.index(kind))


def serve(kind: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        build(kind), host="127.0.0.1", port=port, loop="uvloop", http="httptools",
        log_level="warning", access_log=False, lifespan="on",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", choices=VARIANTS)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    _load.require_wrk()
    print(f"{'variant':<11}{'req/s':>9}{'us/req':>9}{'added us':>10}")
    previous = None
    for kind in VARIANTS:
        port = _load.free_port()
        proc = _load.serve(
            [sys.executable, __file__, "--serve", kind, "--port", str(port)],
            env={**os.environ, "MATINEE_LOG_JSON": "false"},
        )
        try:
            url = f"http://127.0.0.1:{port}/empty"
            _load.wait_http(url, headers=IDENTITY)
            _load.wrk(url, seconds=2, headers=IDENTITY)  # warm-up
            rate = _load.wrk(url, seconds=args.seconds, headers=IDENTITY).requests_per_s
        finally:
            _load.stop(proc)
        micros = 1e6 / rate
        added = "" if previous is None else f"{micros - previous:>10.1f}"
        print(f"{kind:<11}{rate:>9.0f}{micros:>9.1f}{added}")
        previous = micros


if __name__ == "__main__":
    main()
