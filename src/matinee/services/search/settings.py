"""Settings of the search service."""

from __future__ import annotations

from pydantic import Field

from matinee.platform.settings import ServiceSettings

__all__ = ["SearchSettings"]


class SearchSettings(ServiceSettings):
    """Search settings: ``MATINEE_SEARCH_PUBLISH_INTERVAL``, ``MATINEE_SEARCH_COMPACT_AT``."""

    # Seconds between making staged catalog changes searchable (well inside the 2 s promise).
    search_publish_interval: float = Field(default=0.2, gt=0, le=1.0)
    # Titles changed since the last full build before the base index is rebuilt.
    search_compact_at: int = Field(default=1000, ge=1)
