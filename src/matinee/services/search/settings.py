"""Settings of the search service.

| variable | meaning (default) |
|---|---|
| ``MATINEE_SEARCH_DATABASE_URL`` | PostgreSQL for the viewing history (else SQLite) |
| ``MATINEE_SEARCH_PUBLISH_INTERVAL`` | seconds between making catalog changes searchable (0.2) |
| ``MATINEE_SEARCH_COMPACT_AT`` | changed titles before the base index is rebuilt (1000) |
| ``MATINEE_SEARCH_TASTE_TTL`` | seconds a profile's personal hint is cached (5) |
| ``MATINEE_SEARCH_TASTE_WAIT`` | seconds a request waits for an uncached hint (0.05) |
"""

from __future__ import annotations

from pydantic import AliasChoices, Field

from matinee.platform.settings import ServiceSettings

__all__ = ["SearchSettings"]


class SearchSettings(ServiceSettings):
    """Search settings; see the module docstring for the variables."""

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MATINEE_SEARCH_DATABASE_URL")
    )
    # Seconds between making staged catalog changes searchable (well inside the 2 s promise).
    search_publish_interval: float = Field(default=0.2, gt=0, le=1.0)
    # Titles changed since the last full build before the base index is rebuilt.
    search_compact_at: int = Field(default=1000, ge=1)
    # The history is read at most once per this many seconds per profile while typing.
    search_taste_ttl: float = Field(default=5.0, gt=0, le=300)
    # A request whose hint is not cached waits this long for it, then goes without.
    search_taste_wait: float = Field(default=0.05, ge=0, le=1.0)
