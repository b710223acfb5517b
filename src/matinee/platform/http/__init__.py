"""The resilient HTTP client: how one Matinee service calls another (DESIGN.md rule 2).

| usage | effect |
|---|---|
| ``pool = HttpPool()`` | one per process, keep-alive pooling; ``await pool.close()`` at exit |
| ``c = ServiceClient("catalog", resolver=discovery, transport=pool, metrics=m)`` | one per callee |
| ``await c.request("GET", "/titles/1")`` | a :class:`Response` (4xx too), or :class:`CallFailed` |
| ``await c.get_json("/rows", fallback=lambda exc: [])`` | decoded JSON, or the fallback's value |
| ``ServiceClient(..., policy=CallPolicy(timeout=0.3, max_attempts=3))`` | tune per callee |
| ``ServiceClient(..., transport=fake, clock=fake_clock, rng=random.Random(1))`` | tests |

Load balancing is power of two choices on calls in flight; retries go only to another
instance, only for idempotent calls, within a 10% retry budget; breakers per instance
and per service; every outgoing call carries the current ``traceparent``.
"""

from matinee.platform.http._types import (
    CallFailed,
    FailureReason,
    Response,
    ResponseError,
    Transport,
    TransportError,
)
from matinee.platform.http.breaker import BreakerState, CircuitBreaker, RetryBudget
from matinee.platform.http.client import IDEMPOTENT_METHODS, CallPolicy, Fallback, ServiceClient
from matinee.platform.http.pool import HttpPool

__all__ = [
    "IDEMPOTENT_METHODS",
    "BreakerState",
    "CallFailed",
    "CallPolicy",
    "CircuitBreaker",
    "FailureReason",
    "Fallback",
    "HttpPool",
    "Response",
    "ResponseError",
    "RetryBudget",
    "ServiceClient",
    "Transport",
    "TransportError",
]
