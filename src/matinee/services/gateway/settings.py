"""Settings of the gateway."""

from __future__ import annotations

from pydantic import Field

from matinee.platform.settings import ServiceSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings):
    """Gateway settings (``MATINEE_GATEWAY_*``)."""

    # Per-call timeout towards catalog; the edge fails fast and lets the client retry.
    catalog_timeout: float = Field(
        default=1.0, gt=0, le=30, validation_alias="MATINEE_GATEWAY_CATALOG_TIMEOUT"
    )
