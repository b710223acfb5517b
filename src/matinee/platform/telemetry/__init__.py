"""Logging, metrics and tracing for every service (DESIGN.md rule 6)."""

from matinee.platform.telemetry.logging import configure_logging
from matinee.platform.telemetry.metrics import Metrics
from matinee.platform.telemetry.middleware import TelemetryMiddleware
from matinee.platform.telemetry.tracing import (
    TraceContext,
    current_trace_id,
    outgoing_headers,
)

__all__ = [
    "Metrics",
    "TelemetryMiddleware",
    "TraceContext",
    "configure_logging",
    "current_trace_id",
    "outgoing_headers",
]
