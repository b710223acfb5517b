"""W3C Trace Context: parse, create and carry ``traceparent`` across calls.

The current span lives in a contextvar, so it follows the request through
``await`` points and into outgoing HTTP calls and events without being passed
around by hand.

| usage | effect |
|---|---|
| ``ctx = TraceContext.from_header(h) or TraceContext.new()`` | continue or start a trace |
| ``token = set_current(ctx.child())`` / ``reset_current(token)`` | enter / leave a span |
| ``outgoing_headers()`` | ``{"traceparent": ...}`` for the current span, or ``{}`` |
"""

from __future__ import annotations

import contextvars
import random
from typing import NamedTuple

__all__ = [
    "TraceContext",
    "current",
    "current_trace_id",
    "outgoing_headers",
    "reset_current",
    "set_current",
]

# Ids need uniqueness, not secrecy: a seeded PRNG avoids a syscall per span.
_random_bytes = random.Random().randbytes
_HEX = frozenset("0123456789abcdef")
_current: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar(
    "matinee_trace", default=None
)


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and all(c in _HEX for c in value) and value != "0" * length


class TraceContext(NamedTuple):
    """One span's identity: the trace it belongs to and its own span id.

    A named tuple rather than a frozen dataclass: every request makes one, and a tuple
    is built several times faster (a frozen dataclass sets each field through
    ``object.__setattr__``).
    """

    trace_id: str
    span_id: str
    sampled: bool = True

    @classmethod
    def new(cls) -> TraceContext:
        """Start a new trace."""
        ids = _random_bytes(24).hex()  # one call for both ids: 32 + 16 hex digits
        return cls(ids[:32], ids[32:])

    @classmethod
    def from_header(cls, header: str | None) -> TraceContext | None:
        """Parse a ``traceparent`` header; return None when absent or malformed."""
        if not header or len(header) < 55:
            return None
        parts = header.strip().lower().split("-")
        version = parts[0]
        if len(parts) < 4 or version == "ff" or len(version) != 2 or not set(version) <= _HEX:
            return None
        _, trace_id, span_id, flags = parts[:4]
        if not (_is_hex(trace_id, 32) and _is_hex(span_id, 16)) or len(flags) != 2:
            return None
        try:
            sampled = bool(int(flags, 16) & 1)
        except ValueError:
            return None
        return cls(trace_id, span_id, sampled)

    def child(self) -> TraceContext:
        """Return a new span in the same trace."""
        return TraceContext(self.trace_id, _random_bytes(8).hex(), self.sampled)

    def to_header(self) -> str:
        """Render as a ``traceparent`` header value."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def current() -> TraceContext | None:
    """Return the span of the running request or task, if any."""
    return _current.get()


def current_trace_id() -> str:
    """Return the current trace id, or an empty string outside a trace."""
    ctx = _current.get()
    return ctx.trace_id if ctx else ""


def set_current(ctx: TraceContext | None) -> contextvars.Token[TraceContext | None]:
    """Make ``ctx`` the current span; keep the token to restore the previous one."""
    return _current.set(ctx)


def reset_current(token: contextvars.Token[TraceContext | None]) -> None:
    """Restore the span that was current before :func:`set_current`."""
    _current.reset(token)


def outgoing_headers() -> dict[str, str]:
    """Return the headers that carry the current span to a callee."""
    ctx = _current.get()
    return {"traceparent": ctx.child().to_header()} if ctx else {}
