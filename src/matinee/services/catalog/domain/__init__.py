"""Catalog domain: pure types and rules, no web, HTTP or SQL."""

from matinee.services.catalog.domain.model import (
    Artwork,
    CuratedList,
    Episode,
    Genre,
    GenreNotFound,
    ListNotFound,
    ListRepository,
    Page,
    Season,
    Title,
    TitleNotFound,
    TitleRepository,
    UnknownTitles,
)
from matinee.services.catalog.domain.rules import Sort, display_title, maturity_level, max_level

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
    "Sort",
    "Title",
    "TitleNotFound",
    "TitleRepository",
    "UnknownTitles",
    "display_title",
    "maturity_level",
    "max_level",
]
