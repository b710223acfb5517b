"""Events catalog publishes: its public, versioned contract with consumers (search, recs)."""

from __future__ import annotations

from pydantic import Field

from matinee.platform.events import Event
from matinee.services.catalog.domain.model import Title

__all__ = ["TitleUpserted"]


class TitleUpserted(Event):
    """A title was created or changed; carries the whole title so consumers need no call back.

    Fields after ``popularity`` were added compatibly (defaults for readers of old events);
    seasons travel as counts, the episodes themselves are read from the title on demand.
    """

    type = "matinee.catalog.title_upserted"
    version = 1

    title_id: int
    name: str
    year: int | None = None
    kind: str = "movie"
    genres: list[str] = Field(default_factory=list)
    popularity: float = 0.0
    original_title: str | None = None
    maturity_rating: str = "NR"
    synopsis: str = ""
    runtime_minutes: int | None = None
    cast: list[str] = Field(default_factory=list)
    poster_url: str | None = None
    backdrop_url: str | None = None
    asset_ref: str | None = None
    season_count: int = 0
    episode_count: int = 0

    @classmethod
    def of(cls, title: Title) -> TitleUpserted:
        """Return the event announcing ``title``."""
        return cls(
            title_id=title.id,
            name=title.name,
            year=title.year,
            kind=title.kind,
            genres=list(title.genres),
            popularity=title.popularity,
            original_title=title.original_title,
            maturity_rating=title.maturity_rating,
            synopsis=title.synopsis,
            runtime_minutes=title.runtime_minutes,
            cast=list(title.cast),
            poster_url=title.artwork.poster_url,
            backdrop_url=title.artwork.backdrop_url,
            asset_ref=title.asset_ref,
            season_count=len(title.seasons),
            episode_count=sum(len(s.episodes) for s in title.seasons),
        )
