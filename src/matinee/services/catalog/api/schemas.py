"""Request and response bodies of the catalog API (HTTP <-> domain)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints, model_validator

from matinee.services.catalog.domain.model import (
    Artwork,
    CuratedList,
    Episode,
    Genre,
    Season,
    Title,
)
from matinee.services.catalog.domain.rules import RATINGS, Sort, check_rating

__all__ = [
    "MAX_BATCH",
    "ArtworkOut",
    "AudienceQuery",
    "BatchOut",
    "BrowseQuery",
    "EpisodeOut",
    "GenreList",
    "GenreOut",
    "GenrePath",
    "ListIn",
    "ListOut",
    "ListPath",
    "ListSummaries",
    "ListSummary",
    "PageQuery",
    "SeasonOut",
    "TitleBatchIn",
    "TitleBatchItem",
    "TitleIn",
    "TitleOut",
    "TitlePage",
    "TitlePath",
    "TitleSummary",
]

# Ids are exact in a JavaScript number, so every client reads them back unchanged.
MAX_ID = 2**53
# Titles per batch upsert: one transaction each, about 1 MB of JSON.
MAX_BATCH = 1000

Maturity = Literal["kids", "teen", "adult"]
Rating = Literal["G", "PG", "PG-13", "R", "NC-17", "TV-Y", "TV-PG", "TV-14", "TV-MA", "NR"]
GenreName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
CastName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Url = Annotated[str, StringConstraints(max_length=2000, pattern=r"^(https?://|/)\S+$")]
AssetRef = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\w.:/-]+$")]
ListId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]

assert set(RATINGS) == set(Rating.__args__)  # type: ignore[attr-defined]


class TitlePath(BaseModel):
    """Path of a single title."""

    title_id: int = Field(ge=1, le=MAX_ID)


class GenrePath(BaseModel):
    """Path of a genre."""

    genre_id: int = Field(ge=1, le=2**31 - 1)


class ListPath(BaseModel):
    """Path of a curated list: a slug such as ``staff-picks``."""

    list_id: ListId


class BrowseQuery(BaseModel):
    """Page-numbered browsing: ``?page=2&page_size=20&sort=year&max_maturity=kids``."""

    page: int = Field(default=1, ge=1, le=50_000)
    page_size: int = Field(default=20, ge=1, le=100)
    sort: Sort = Sort.POPULARITY
    # A profile's maturity ("kids" | "teen" | "adult"); absent shows every title.
    max_maturity: Maturity | None = None


PageQuery = BrowseQuery


class AudienceQuery(BaseModel):
    """Who is looking: ``?max_maturity=kids`` hides what that profile may not see."""

    max_maturity: Maturity | None = None


# -- writes ----------------------------------------------------------------------------


class ArtworkIn(BaseModel):
    """Picture URLs (absolute, or a path on the fleet's own origin)."""

    model_config = ConfigDict(extra="forbid")

    poster_url: Url | None = None
    backdrop_url: Url | None = None


class EpisodeIn(BaseModel):
    """One episode as an admin writes it."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, le=10_000)
    name: str = Field(min_length=1, max_length=500)
    runtime_minutes: int | None = Field(default=None, ge=1, le=10_000)
    asset_ref: AssetRef | None = None
    synopsis: str = Field(default="", max_length=5000)


class SeasonIn(BaseModel):
    """One season and its episodes."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, le=1000)
    name: str = Field(default="", max_length=500)
    episodes: list[EpisodeIn] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _unique_episodes(self) -> SeasonIn:
        numbers = [e.number for e in self.episodes]
        if len(numbers) != len(set(numbers)):
            raise ValueError(f"season {self.number} numbers an episode twice")
        return self


class TitleIn(BaseModel):
    """A title as an admin writes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    original_title: str | None = Field(default=None, max_length=500)
    year: int | None = Field(default=None, ge=1870, le=2100)
    kind: Literal["movie", "series"] = "movie"
    genres: list[GenreName] = Field(default_factory=list, max_length=20)
    synopsis: str = Field(default="", max_length=5000)
    runtime_minutes: int | None = Field(default=None, ge=1, le=10_000)
    popularity: float = Field(default=0.0, ge=0, le=1e12)
    maturity_rating: Rating = "NR"
    cast: list[CastName] = Field(default_factory=list, max_length=100)
    artwork: ArtworkIn = Field(default_factory=ArtworkIn)
    asset_ref: AssetRef | None = None
    seasons: list[SeasonIn] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _consistent(self) -> TitleIn:
        check_rating(self.kind, self.maturity_rating)
        if self.seasons and self.kind != "series":
            raise ValueError("only a series has seasons")
        numbers = [s.number for s in self.seasons]
        if len(numbers) != len(set(numbers)):
            raise ValueError("a season number appears twice")
        return self

    def to_domain(self, title_id: int) -> Title:
        """Return the domain title with this id."""
        return Title(
            id=title_id,
            name=self.name,
            year=self.year,
            kind=self.kind,
            genres=tuple(dict.fromkeys(self.genres)),
            synopsis=self.synopsis,
            runtime_minutes=self.runtime_minutes,
            popularity=self.popularity,
            original_title=self.original_title,
            maturity_rating=self.maturity_rating,
            cast=tuple(self.cast),
            artwork=Artwork(self.artwork.poster_url, self.artwork.backdrop_url),
            asset_ref=self.asset_ref,
            seasons=tuple(
                Season(
                    s.number,
                    tuple(
                        Episode(e.number, e.name, e.runtime_minutes, e.asset_ref, e.synopsis)
                        for e in sorted(s.episodes, key=lambda e: e.number)
                    ),
                    s.name,
                )
                for s in sorted(self.seasons, key=lambda s: s.number)
            ),
        )


class TitleBatchItem(TitleIn):
    """A title in a batch upsert: the id travels with it."""

    id: int = Field(ge=1, le=MAX_ID)


class TitleBatchIn(BaseModel):
    """Up to 1,000 titles stored in one transaction (``POST /admin/titles:batch``)."""

    model_config = ConfigDict(extra="forbid")

    titles: list[TitleBatchItem] = Field(min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _unique_ids(self) -> TitleBatchIn:
        seen: set[int] = set()
        for index, item in enumerate(self.titles):
            if item.id in seen:
                raise ValueError(f"titles.{index}: id {item.id} appears twice in the batch")
            seen.add(item.id)
        return self


class BatchOut(BaseModel):
    """What a batch upsert did."""

    created: int
    updated: int


class ListIn(BaseModel):
    """A curated list as an admin writes it: titles in display order."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    title_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=500
    )

    @model_validator(mode="after")
    def _unique(self) -> ListIn:
        if len(self.title_ids) != len(set(self.title_ids)):
            raise ValueError("a title appears twice in the list")
        return self

    def to_domain(self, list_id: str) -> CuratedList:
        """Return the domain list with this id."""
        return CuratedList(list_id, self.name, self.description, tuple(self.title_ids))


# -- reads -----------------------------------------------------------------------------


class ArtworkOut(BaseModel):
    """Picture URLs; null ones are drawn by the web app."""

    poster_url: str | None = None
    backdrop_url: str | None = None


class EpisodeOut(BaseModel):
    """One episode."""

    number: int
    name: str
    runtime_minutes: int | None
    asset_ref: str | None
    synopsis: str = ""


class SeasonOut(BaseModel):
    """One season and its episodes."""

    number: int
    name: str = ""
    episodes: list[EpisodeOut]


class TitleSummary(BaseModel):
    """A title as rows and pages show it (no cast, no seasons)."""

    id: int
    name: str
    kind: str
    year: int | None
    runtime_minutes: int | None
    genres: list[str]
    maturity_rating: str = "NR"
    synopsis: str
    popularity: float
    artwork: ArtworkOut = Field(default_factory=ArtworkOut)

    @classmethod
    def from_domain(cls, title: Title) -> TitleSummary:
        """Return the summary of a domain title."""
        return cls(
            id=title.id,
            name=title.name,
            kind=title.kind,
            year=title.year,
            runtime_minutes=title.runtime_minutes,
            genres=list(title.genres),
            maturity_rating=title.maturity_rating,
            synopsis=title.synopsis,
            popularity=title.popularity,
            artwork=ArtworkOut(
                poster_url=title.artwork.poster_url, backdrop_url=title.artwork.backdrop_url
            ),
        )


class TitleOut(TitleSummary):
    """A title as clients read it, whole."""

    original_title: str | None = None
    cast: list[str] = Field(default_factory=list)
    asset_ref: str | None = None
    seasons: list[SeasonOut] = Field(default_factory=list)

    @classmethod
    def from_domain(cls, title: Title) -> TitleOut:
        """Return the wire form of a domain title."""
        summary = TitleSummary.from_domain(title)
        return cls(
            **summary.__dict__,
            original_title=title.original_title,
            cast=list(title.cast),
            asset_ref=title.asset_ref,
            seasons=[
                SeasonOut(
                    number=s.number,
                    name=s.name,
                    episodes=[
                        EpisodeOut(
                            number=e.number,
                            name=e.name,
                            runtime_minutes=e.runtime_minutes,
                            asset_ref=e.asset_ref,
                            synopsis=e.synopsis,
                        )
                        for e in s.episodes
                    ],
                )
                for s in title.seasons
            ],
        )


class TitlePage(BaseModel):
    """One page of titles and the total across all pages."""

    items: list[TitleSummary]
    page: int
    page_size: int
    total: int


class GenreOut(BaseModel):
    """A genre and how many titles it has."""

    id: int
    name: str
    title_count: int

    @classmethod
    def from_domain(cls, genre: Genre) -> GenreOut:
        """Return the wire form of a genre."""
        return cls(id=genre.id, name=genre.name, title_count=genre.title_count)


class ListSummary(BaseModel):
    """A curated list without its titles."""

    id: str
    name: str
    description: str
    size: int


class ListOut(BaseModel):
    """A curated list with its titles, in the editor's order."""

    id: str
    name: str
    description: str
    items: list[TitleSummary]


class GenreList(RootModel[list[GenreOut]]):
    """Every genre that has titles, by name."""


class ListSummaries(RootModel[list[ListSummary]]):
    """Every curated list, by name."""
