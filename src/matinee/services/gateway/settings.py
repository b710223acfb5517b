"""Settings of the gateway."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from matinee.platform.settings import ServiceSettings

__all__ = ["GatewaySettings"]


def _alias(name: str) -> str:
    return f"MATINEE_GATEWAY_{name.upper()}"


class GatewaySettings(ServiceSettings):
    """Gateway settings (``MATINEE_GATEWAY_*``)."""

    # Per-call timeout towards catalog from the gateway's own composite endpoints.
    catalog_timeout: float = Field(
        default=1.0, gt=0, le=30, validation_alias=_alias("catalog_timeout")
    )
    # The route table; empty means the one shipped in the package (routes.toml).
    routes_file: Path | None = Field(default=None, validation_alias=_alias("routes_file"))
    # Browser origins allowed by CORS, besides the gateway's own; "http://host:*" = any port.
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:*", "http://127.0.0.1:*"],
        validation_alias=_alias("cors_origins"),
    )
    # Multiplies every rate and burst of the route table's rate-limit classes; 0 turns
    # rate limiting off (benchmarks measure the edge, not the limiter's verdicts).
    rate_limit_scale: float = Field(default=1.0, ge=0, validation_alias=_alias("rate_limit_scale"))
    # Peers whose X-Forwarded-For is believed (a load balancer in front of the edge).
    trusted_proxies: list[str] = Field(
        default_factory=list, validation_alias=_alias("trusted_proxies")
    )
    # Set when a TLS terminator sits in front: responses then carry HSTS.
    behind_tls: bool = Field(default=False, validation_alias=_alias("behind_tls"))
    # Verified access tokens kept in memory (each until it expires).
    token_cache_size: int = Field(
        default=100_000, ge=100, validation_alias=_alias("token_cache_size")
    )
    # Seconds between JWKS refreshes, and the least time between two refreshes on unknown kid.
    jwks_refresh_interval: float = Field(
        default=300.0, gt=0, validation_alias=_alias("jwks_refresh_interval")
    )
    jwks_min_refresh_gap: float = Field(
        default=5.0, ge=0, validation_alias=_alias("jwks_min_refresh_gap")
    )
    # Idle keep-alive connections to a service are dropped after this (below uvicorn's 5 s).
    upstream_idle_timeout: float = Field(
        default=4.0, gt=0, validation_alias=_alias("upstream_idle_timeout")
    )
    upstream_connect_timeout: float = Field(
        default=0.5, gt=0, validation_alias=_alias("upstream_connect_timeout")
    )
    # Attempts per idempotent request (the first included), each on another instance.
    max_attempts: int = Field(default=2, ge=1, le=5, validation_alias=_alias("max_attempts"))
    # Client connections idle longer than this are closed.
    idle_timeout: float = Field(default=30.0, gt=0, validation_alias=_alias("idle_timeout"))
    max_header_bytes: int = Field(
        default=16384, ge=1024, validation_alias=_alias("max_header_bytes")
    )
