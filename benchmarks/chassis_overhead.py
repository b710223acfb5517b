"""Chassis overhead: an empty route through Matinee's full middleware stack vs bare Starlette.

Claim (issue 2): at least 0.8x the requests/s of a bare Starlette app on the same
server (uvicorn, uvloop, httptools, one worker), same wrk load, same run.

    .venv/bin/python benchmarks/chassis_overhead.py [--seconds 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys

import _load


def _identity() -> dict[str, str]:
    # The chassis refuses unsigned requests: wrk sends a valid identity header, so the
    # measured path includes verifying it (the bare app ignores the header).
    from matinee.platform.identity import IDENTITY_HEADER, Identity, IdentitySigner

    signer = IdentitySigner("dev-internal-secret", service="bench", ttl=3600)
    return {IDENTITY_HEADER: signer.sign(Identity.of_service("bench"))}


IDENTITY = _identity()


def bare_app():  # type: ignore[no-untyped-def]
    """A bare Starlette app with one empty route: the peer."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def empty(request):  # type: ignore[no-untyped-def]
        return Response(b"ok", media_type="text/plain")

    return Starlette(routes=[Route("/empty", empty)])


def chassis_app():  # type: ignore[no-untyped-def]
    """The same route inside Matinee's chassis: telemetry, identity, errors, metrics."""
    from starlette.responses import Response

    from matinee.platform.api import Router
    from matinee.platform.service import ServiceSpec, create_service_app
    from matinee.platform.settings import ServiceSettings

    router = Router()

    @router.get("/empty")
    async def empty() -> Response:
        return Response(b"ok", media_type="text/plain")

    return create_service_app(ServiceSpec("bench"), ServiceSettings(), routers=[router])


def serve(kind: str, port: int) -> None:
    """Run one of the two apps under uvicorn (uvloop, httptools), one worker."""
    import uvicorn

    app = bare_app() if kind == "bare" else chassis_app()
    uvicorn.run(
        app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
        log_level="warning", access_log=False, lifespan="on",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", choices=["bare", "chassis"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    _load.require_wrk()
    results: dict[str, list[_load.WrkResult]] = {"bare": [], "chassis": []}
    for _ in range(args.rounds):
        for kind in ("bare", "chassis"):
            port = _load.free_port()
            proc = _load.serve(
                [sys.executable, __file__, "--serve", kind, "--port", str(port)],
                env={**os.environ, "MATINEE_LOG_JSON": "false"},
            )
            try:
                url = f"http://127.0.0.1:{port}/empty"
                _load.wait_http(url, headers=IDENTITY)
                _load.wrk(url, seconds=2, headers=IDENTITY)  # warm-up
                results[kind].append(_load.wrk(url, seconds=args.seconds, headers=IDENTITY))
            finally:
                _load.stop(proc)
    best = {kind: max(runs, key=lambda r: r.requests_per_s) for kind, runs in results.items()}
    print(f"{'server':<10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for kind, res in best.items():
        print(f"{kind:<10}{res.requests_per_s:>10.0f}{res.p50_ms:>9.2f}{res.p99_ms:>9.2f}")
    ratio = best["chassis"].requests_per_s / best["bare"].requests_per_s
    print(f"chassis / bare Starlette: {ratio:.2f}x (target >= 0.80x)")


if __name__ == "__main__":
    main()
