"""The chassis's one pure-ASGI middleware: trace context, request metrics, in-flight.

Pure ASGI (not BaseHTTPMiddleware) so contextvars set here are seen by the
handler, and so the cost per request stays a few microseconds.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matinee.platform.telemetry.metrics import Metrics
from matinee.platform.telemetry.tracing import TraceContext, reset_current, set_current

__all__ = ["TelemetryMiddleware"]

_TRACEPARENT = b"traceparent"


class TelemetryMiddleware:
    """Continue or start a trace, echo it back, and time every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        # A plain int read at scrape time: Gauge.inc/dec take a lock on every request.
        self.in_flight = 0
        metrics.gauge(
            "http_server_requests_in_flight", "HTTP requests being served now"
        ).set_function(lambda: self.in_flight)
        self.duration: Histogram = metrics.histogram(
            "http_server_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ["route", "method", "status"],
        )
        # Children cached by label tuple: prometheus_client's labels() takes a lock.
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = None
        for name, value in scope["headers"]:
            if name == _TRACEPARENT:
                parent = TraceContext.from_header(value.decode("latin-1"))
                break
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

        self.in_flight += 1
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.in_flight -= 1
            # Starlette's router leaves the matched route in the scope: label by its template
            # (bounded cardinality); every unmatched path shares one label.
            route = scope.get("route")
            template = route.path if route is not None else "unmatched"
            key = (template, scope["method"], status)
            child = self._children.get(key)
            if child is None:
                child = self.duration.labels(template, scope["method"], str(status))
                self._children[key] = child
            child.observe(time.perf_counter() - start)
            reset_current(token)
