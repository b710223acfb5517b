"""Events catalog publishes: its public, versioned contract with consumers (search, recs)."""

from __future__ import annotations

from pydantic import Field

from matinee.platform.events import Event
from matinee.services.catalog.domain.model import Title

__all__ = ["TitleUpserted"]


class TitleUpserted(Event):
    """A title was created or changed; carries the whole title so consumers need no call back."""

    type = "matinee.catalog.title_upserted"
    version = 1

    title_id: int
    name: str
    year: int | None = None
    kind: str = "movie"
    genres: list[str] = Field(default_factory=list)
    popularity: float = 0.0

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
        )
