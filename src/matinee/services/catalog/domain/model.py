"""What a title is, and the port through which the catalog stores titles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Title", "TitleNotFound", "TitleRepository"]


@dataclass(frozen=True, slots=True)
class Title:
    """A movie or series as the catalog knows it."""

    id: int
    name: str
    year: int | None = None
    kind: str = "movie"
    genres: tuple[str, ...] = field(default_factory=tuple)
    synopsis: str = ""
    runtime_minutes: int | None = None
    popularity: float = 0.0


class TitleNotFound(LookupError):
    """No title has the requested id."""

    def __init__(self, title_id: int) -> None:
        super().__init__(f"title {title_id} does not exist")
        self.title_id = title_id


class TitleRepository(Protocol):
    """Storage port for titles; adapters live in ``catalog.storage``."""

    async def get(self, title_id: int) -> Title:
        """Return the title or raise TitleNotFound."""
        ...

    async def upsert(self, title: Title) -> bool:
        """Insert or replace a title; return True when it was new."""
        ...

    async def list_popular(self, limit: int, offset: int) -> Sequence[Title]:
        """Return titles by descending popularity."""
        ...
