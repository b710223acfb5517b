"""Settings of the playback service.

| variable | meaning (default) |
|---|---|
| ``MATINEE_PLAYBACK_DATABASE_URL`` | PostgreSQL for sessions and leases (else SQLite) |
| ``MATINEE_PLAYBACK_LEASE_TTL`` | seconds a stream lease lives without a heartbeat (60) |
| ``MATINEE_PLAYBACK_URL_TTL`` | seconds a signed manifest URL stays valid (21600) |
| ``MATINEE_PLAYBACK_NODE_POLL_INTERVAL`` | seconds between ``/node`` polls of the CDN (2) |
| ``MATINEE_PLAYBACK_DEFAULT_REGION`` | region of clients that name none ("": no preference) |
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from matinee.platform.settings import ServiceSettings

__all__ = ["PlaybackSettings"]


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"MATINEE_PLAYBACK_{name.upper()}")


class PlaybackSettings(ServiceSettings):
    """Playback settings; every field also reads ``MATINEE_PLAYBACK_<FIELD>``."""

    model_config = SettingsConfigDict(populate_by_name=True)

    database_url: str | None = Field(default=None, validation_alias=_env("database_url"))
    lease_ttl: float = Field(default=60.0, gt=0, le=3600, validation_alias=_env("lease_ttl"))
    url_ttl: float = Field(default=21600.0, gt=0, validation_alias=_env("url_ttl"))
    node_poll_interval: float = Field(
        default=2.0, gt=0, validation_alias=_env("node_poll_interval")
    )
    default_region: str = Field(default="", validation_alias=_env("default_region"))
