"""What the catalog knows (titles, genres, curated lists) and the ports that store it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from matinee.services.catalog.domain.rules import Sort

__all__ = [
    "Artwork",
    "CuratedList",
    "Episode",
    "Genre",
    "GenreNotFound",
    "ListNotFound",
    "ListRepository",
    "Page",
    "Season",
    "Title",
    "TitleNotFound",
    "TitleRepository",
    "UnknownTitles",
]


@dataclass(frozen=True, slots=True)
class Artwork:
    """Where a title's pictures are; both may be absent (the web app draws a poster)."""

    poster_url: str | None = None
    backdrop_url: str | None = None


@dataclass(frozen=True, slots=True)
class Episode:
    """One episode of a season of a series."""

    number: int
    name: str
    runtime_minutes: int | None = None
    asset_ref: str | None = None
    synopsis: str = ""


@dataclass(frozen=True, slots=True)
class Season:
    """One season of a series, its episodes in order."""

    number: int
    episodes: tuple[Episode, ...] = ()
    name: str = ""


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
    # The name as the source spelled it ("Matrix, The"), when it differs from ``name``.
    original_title: str | None = None
    maturity_rating: str = "NR"
    cast: tuple[str, ...] = ()
    artwork: Artwork = field(default_factory=Artwork)
    asset_ref: str | None = None
    seasons: tuple[Season, ...] = ()


@dataclass(frozen=True, slots=True)
class Genre:
    """A genre and how many titles it has."""

    id: int
    name: str
    title_count: int = 0


@dataclass(frozen=True, slots=True)
class CuratedList:
    """An editor's list of titles, in the editor's order."""

    id: str
    name: str
    description: str = ""
    title_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a browse query and the total across all pages."""

    items: Sequence[Title]
    total: int


class TitleNotFound(LookupError):
    """No title has the requested id."""

    def __init__(self, title_id: int) -> None:
        super().__init__(f"title {title_id} does not exist")
        self.title_id = title_id


class GenreNotFound(LookupError):
    """No genre has the requested id."""

    def __init__(self, genre_id: int) -> None:
        super().__init__(f"genre {genre_id} does not exist")
        self.genre_id = genre_id


class ListNotFound(LookupError):
    """No curated list has the requested id."""

    def __init__(self, list_id: str) -> None:
        super().__init__(f"list {list_id!r} does not exist")
        self.list_id = list_id


class UnknownTitles(ValueError):
    """A list names titles the catalog does not have."""

    def __init__(self, title_ids: Sequence[int]) -> None:
        shown = ", ".join(str(i) for i in title_ids[:10])
        more = f" and {len(title_ids) - 10} more" if len(title_ids) > 10 else ""
        super().__init__(f"unknown title ids: {shown}{more}")
        self.title_ids = tuple(title_ids)


class TitleRepository(Protocol):
    """Storage port for titles and genres; adapters live in ``catalog.storage``."""

    async def get(self, title_id: int) -> Title:
        """Return the title or raise TitleNotFound."""
        ...

    async def get_many(self, title_ids: Sequence[int]) -> dict[int, Title]:
        """Return the titles that exist among ``title_ids``, by id."""
        ...

    async def upsert(self, title: Title) -> bool:
        """Insert or replace a title; return True when it was new."""
        ...

    async def upsert_many(self, titles: Sequence[Title]) -> list[bool]:
        """Insert or replace titles in one transaction; return, per title, whether it was new."""
        ...

    async def browse(
        self,
        *,
        sort: Sort,
        offset: int,
        limit: int,
        max_level: int,
        genre_id: int | None = None,
    ) -> Page:
        """Return a page of titles (of one genre, when given) at or below a maturity level."""
        ...

    async def genres(self) -> Sequence[Genre]:
        """Return every genre with its title count, by name."""
        ...

    async def genre(self, genre_id: int) -> Genre:
        """Return one genre or raise GenreNotFound."""
        ...


class ListRepository(Protocol):
    """Storage port for curated lists."""

    async def lists(self) -> Sequence[CuratedList]:
        """Return every list, by name."""
        ...

    async def get_list(self, list_id: str) -> CuratedList:
        """Return a list or raise ListNotFound."""
        ...

    async def put_list(self, curated: CuratedList) -> bool:
        """Create or replace a list; raise UnknownTitles; return True when it was new."""
        ...

    async def delete_list(self, list_id: str) -> None:
        """Delete a list or raise ListNotFound."""
        ...
