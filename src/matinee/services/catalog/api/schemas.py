"""Request and response bodies of the catalog API (HTTP <-> domain)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from matinee.services.catalog.domain.model import Title

__all__ = ["PageQuery", "TitleIn", "TitleOut", "TitlePage", "TitlePath"]

# Ids are exact in a JavaScript number, so every client reads them back unchanged.
MAX_ID = 2**53


class TitlePath(BaseModel):
    """Path of a single title."""

    title_id: int = Field(ge=1, le=MAX_ID)


class PageQuery(BaseModel):
    """Offset pagination."""

    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class TitleIn(BaseModel):
    """A title as an admin writes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    year: int | None = Field(default=None, ge=1870, le=2100)
    kind: str = Field(default="movie", pattern="^(movie|series)$")
    genres: list[str] = Field(default_factory=list, max_length=20)
    synopsis: str = Field(default="", max_length=5000)
    runtime_minutes: int | None = Field(default=None, ge=1, le=10_000)
    popularity: float = Field(default=0.0, ge=0)

    def to_domain(self, title_id: int) -> Title:
        """Return the domain title with this id."""
        return Title(
            id=title_id,
            name=self.name,
            year=self.year,
            kind=self.kind,
            genres=tuple(g[:64] for g in self.genres),
            synopsis=self.synopsis,
            runtime_minutes=self.runtime_minutes,
            popularity=self.popularity,
        )


class TitleOut(BaseModel):
    """A title as clients read it."""

    id: int
    name: str
    year: int | None
    kind: str
    genres: list[str]
    synopsis: str
    runtime_minutes: int | None
    popularity: float

    @classmethod
    def from_domain(cls, title: Title) -> TitleOut:
        """Return the wire form of a domain title."""
        return cls(
            id=title.id,
            name=title.name,
            year=title.year,
            kind=title.kind,
            genres=list(title.genres),
            synopsis=title.synopsis,
            runtime_minutes=title.runtime_minutes,
            popularity=title.popularity,
        )


class TitlePage(BaseModel):
    """A page of titles."""

    items: list[TitleOut]
    limit: int
    offset: int
