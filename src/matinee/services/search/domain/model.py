"""What search knows about a title, and what it answers with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "MATURITY_CEILINGS",
    "RATING_LEVELS",
    "Facets",
    "Hit",
    "SearchPage",
    "Taste",
    "TitleDoc",
    "rank_key",
    "rating_level",
]

# The catalog's maturity levels: a profile sees a title whose level is at most its ceiling.
# An unknown rating ("NR", or none) sits above everything, so only adults see it.
RATING_LEVELS: dict[str, int] = {
    "G": 0,
    "TV-Y": 0,
    "PG": 1,
    "TV-PG": 1,
    "PG-13": 2,
    "TV-14": 2,
    "R": 3,
    "TV-MA": 3,
    "NC-17": 4,
    "NR": 5,
}
MATURITY_CEILINGS: dict[str, int] = {"kids": 1, "teen": 2, "adult": 5}


def rating_level(rating: str | None) -> int:
    """Return the maturity level of a rating; unknown or missing ratings are adult-only."""
    return RATING_LEVELS.get(rating or "NR", 5)


@dataclass(frozen=True, slots=True)
class TitleDoc:
    """One searchable title, as the catalog's events describe it."""

    id: int
    title: str
    year: int | None = None
    popularity: float = 0.0
    genres: tuple[str, ...] = ()
    original_title: str | None = None
    alternate_titles: tuple[str, ...] = ()
    cast: tuple[str, ...] = ()
    maturity_rating: str | None = None
    kind: str = "movie"

    @property
    def decade(self) -> int | None:
        """Return the decade of the title's year (1999 -> 1990), None without a year."""
        return None if self.year is None else self.year // 10 * 10


RankKey = tuple[int, bool, bool, float, int]


def rank_key(typos: int, exact_title: bool, tier: int, score: float, tiebreak: int) -> RankKey:
    """Return the sort key of a match, best first: fewer typos, the exact title, title
    before cast (tier 2), a higher score, then ``tiebreak`` (a document number or id)."""
    return (typos, not exact_title, tier == 2, -score, tiebreak)


@dataclass(frozen=True, slots=True)
class Hit:
    """A matching title with where its display title matched, for highlighting.

    ``spans`` are [start, end) character offsets into ``title``; a title found through
    its original title or its cast has no span in the display title.
    """

    id: int
    title: str
    year: int | None
    spans: tuple[tuple[int, int], ...]
    typos: int
    popularity: float
    genres: tuple[str, ...] = ()
    matched: str = "title"  # "title" | "cast"
    tier: int = 1  # 0 the title starts with the query, 1 words in a title, 2 through the cast
    score: float = 0.0  # the ranking score (log popularity plus bonuses), see the index
    exact_title: bool = False  # the query is exactly a form of the title

    @property
    def rank(self) -> RankKey:
        """Return the sort key that orders hits of one query, best first."""
        return rank_key(self.typos, self.exact_title, self.tier, self.score, self.id)


@dataclass(frozen=True, slots=True)
class Facets:
    """How many matching titles fall in each genre and each decade."""

    genres: dict[str, int] = field(default_factory=dict)
    decades: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of full search results with the facets of the whole result set."""

    hits: tuple[Hit, ...]
    total: int
    page: int
    page_size: int
    facets: Facets


# The most a hint may multiply a title's popularity by: a hint reorders, it never buries.
MAX_TITLE_FACTOR = 10.0
MAX_GENRE_FACTOR = 3.0


@dataclass(frozen=True, slots=True)
class Taste:
    """What one profile watches, as a ranking hint (never a filter).

    Factors multiply a matching title's popularity in the ranking score: ``titles`` for
    titles the profile has started (capped at ``MAX_TITLE_FACTOR``), ``genres`` for the
    genres it watches most (a title takes its best genre, capped at ``MAX_GENRE_FACTOR``).
    A hint never lifts a title over one with fewer typos or an exact whole-title match.
    """

    titles: Mapping[int, float] = field(default_factory=dict)  # title id -> factor >= 1
    genres: Mapping[str, float] = field(default_factory=dict)  # genre -> factor >= 1

    def __bool__(self) -> bool:
        return bool(self.titles or self.genres)
