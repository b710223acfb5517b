"""Settings of the media service.

| variable | meaning (default) |
|---|---|
| ``MATINEE_MEDIA_DATABASE_URL`` | PostgreSQL for the jobs table (SQLite under the data dir) |
| ``MATINEE_MEDIA_ORIGIN_DIR`` | where published assets live (``<data_dir>/origin``) |
| ``MATINEE_MEDIA_FFMPEG`` | the ffmpeg binary (``ffmpeg`` on PATH, else imageio-ffmpeg's) |
| ``MATINEE_MEDIA_INGEST_ROOTS`` | extra directories ingest may read, ``os.pathsep``-separated |
| ``MATINEE_MEDIA_WORKERS`` | jobs encoded at once by this instance (1; 0 runs no worker) |
| ``MATINEE_MEDIA_MAX_ATTEMPTS`` | tries before a job fails for good (3) |
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from matinee.platform.settings import ServiceSettings

__all__ = ["MediaSettings"]


def _env(name: str) -> AliasChoices:
    # Only the prefixed variable: a bare alias would also read e.g. ``DATABASE_URL``.
    return AliasChoices(f"MATINEE_MEDIA_{name.upper()}")


class MediaSettings(ServiceSettings):
    """Media settings; every field also reads ``MATINEE_MEDIA_<FIELD>``."""

    # Tests and tools build settings by field name; the environment uses the aliases.
    model_config = SettingsConfigDict(populate_by_name=True)

    database_url: str | None = Field(default=None, validation_alias=_env("database_url"))
    origin_dir: Path | None = Field(default=None, validation_alias=_env("origin_dir"))
    ffmpeg: str | None = Field(default=None, validation_alias=_env("ffmpeg"))
    ingest_roots: str = Field(default="", validation_alias=_env("ingest_roots"))
    workers: int = Field(default=1, ge=0, le=16, validation_alias=_env("workers"))
    max_attempts: int = Field(default=3, ge=1, le=20, validation_alias=_env("max_attempts"))
    # Seconds before a failed attempt is retried; doubles with each attempt.
    retry_backoff: float = Field(default=5.0, ge=0, validation_alias=_env("retry_backoff"))
    # A running job whose heartbeat is older than this belonged to a dead worker.
    stale_after: float = Field(default=60.0, gt=0, validation_alias=_env("stale_after"))
    heartbeat_interval: float = Field(
        default=5.0, gt=0, validation_alias=_env("heartbeat_interval")
    )
    poll_interval: float = Field(default=2.0, gt=0, validation_alias=_env("poll_interval"))
    segment_seconds: float = Field(
        default=4.0, ge=1, le=10, validation_alias=_env("segment_seconds")
    )

    @property
    def origin_path(self) -> Path:
        """Return the origin store's directory."""
        return (self.origin_dir or self.data_dir / "origin").resolve()

    @property
    def allowed_roots(self) -> list[Path]:
        """Return the directories an ingest path must lie inside (the data dir and extras)."""
        extra = [Path(p) for p in self.ingest_roots.split(os.pathsep) if p.strip()]
        return [p.resolve() for p in (self.data_dir, *extra)]
