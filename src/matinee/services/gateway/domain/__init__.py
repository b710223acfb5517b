"""Gateway domain: the route table, rate limits, CORS and the verified-token cache."""

from matinee.services.gateway.domain.cors import CorsPolicy
from matinee.services.gateway.domain.ratelimit import TokenBuckets
from matinee.services.gateway.domain.routes import (
    RateClass,
    Route,
    RouteTable,
    RouteTableError,
    load_route_table,
)
from matinee.services.gateway.domain.tokens import (
    KeysUnavailable,
    TokenAuthority,
    TokenRejected,
    UnknownSigningKey,
    VerifiedToken,
)

__all__ = [
    "CorsPolicy",
    "KeysUnavailable",
    "RateClass",
    "Route",
    "RouteTable",
    "RouteTableError",
    "TokenAuthority",
    "TokenBuckets",
    "TokenRejected",
    "UnknownSigningKey",
    "VerifiedToken",
    "load_route_table",
]
