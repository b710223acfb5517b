"""The chassis's one pure-ASGI middleware: trace context, identity gate, metrics.

Pure ASGI (not BaseHTTPMiddleware) so contextvars set here are seen by the
handler, and one layer with one pass over the headers, so the cost per request
stays a few microseconds (each extra ASGI layer costs about one).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matinee.platform.errors import ProblemError
from matinee.platform.identity import (
    IDENTITY_HEADER_BYTES,
    IDENTITY_SCOPE_KEY,
    IdentitySigner,
    reset_forwarded,
    set_forwarded,
)
from matinee.platform.telemetry.metrics import Metrics
from matinee.platform.telemetry.tracing import TraceContext, reset_current, set_current

__all__ = ["TelemetryMiddleware"]

_TRACEPARENT = b"traceparent"


class TelemetryMiddleware:
    """Continue or start a trace, echo it back, time every request; gate on identity.

    With a ``signer``, requests outside ``open_paths`` must carry a valid signed
    identity (DESIGN rule: nobody skips the edge): 401 problem otherwise; the
    verified identity goes to ``scope["matinee.identity"]`` and is forwarded on
    the calls the handler makes.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        signer: IdentitySigner | None = None,
        open_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.signer = signer
        self.open_paths = open_paths
        # A plain int read at scrape time: Gauge.inc/dec take a lock on every request.
        self.in_flight = 0
        metrics.gauge(
            "http_server_requests_in_flight", "HTTP requests being served now"
        ).set_function(lambda: self.in_flight)
        self.duration = metrics.fast_histogram(
            "http_server_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ["route", "method", "status"],
        )
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = None
        identity_header = None
        for name, value in scope["headers"]:
            if name == _TRACEPARENT:
                parent = TraceContext.from_header(value.decode("latin-1"))
            elif name == IDENTITY_HEADER_BYTES:
                identity_header = value
        ctx = parent.child() if parent else TraceContext.new()
        token = set_current(ctx)
        traceparent_header = (b"traceparent", ctx.to_header().encode())
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), traceparent_header]
            await send(message)

        forwarded = None
        app = self.app
        if self.signer is not None and scope["path"] not in self.open_paths:
            try:
                scope[IDENTITY_SCOPE_KEY] = self.signer.verify(identity_header)
            except ProblemError as exc:
                app = exc.to_response(instance=scope["path"])
            else:
                forwarded = set_forwarded(identity_header.decode("latin-1"))  # type: ignore[union-attr]
        self.in_flight += 1
        try:
            await app(scope, receive, send_wrapper)
        finally:
            self.in_flight -= 1
            if forwarded is not None:
                reset_forwarded(forwarded)
            # Starlette's router leaves the matched route in the scope: label by its template
            # (bounded cardinality); every unmatched path shares one label.
            route = scope.get("route")
            template = route.path if route is not None else "unmatched"
            key = (template, scope["method"], status)
            child = self._children.get(key)
            if child is None:
                child = self.duration.child(template, scope["method"], str(status))
                self._children[key] = child
            child.observe(time.perf_counter() - start)
            reset_current(token)
