"""Pure catalog rules: display titles, maturity levels, sort orders, page arithmetic.

| usage | gives |
|---|---|
| ``display_title("Matrix, The")`` | ``"The Matrix"`` |
| ``sort_key("The Matrix")`` | ``"matrix"`` (what ``sort=title`` orders by) |
| ``maturity_level("PG-13")`` | ``2``; ``max_level("teen")`` is ``2`` too |
| ``check_rating("movie", "TV-MA")`` | raises ValueError: that rating is for series |
| ``page_offset(3, 20)``, ``page_count(41, 20)`` | ``40``, ``3`` |
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = [
    "MATURITY_CEILINGS",
    "MOVIE_RATINGS",
    "RATINGS",
    "SERIES_RATINGS",
    "Sort",
    "check_rating",
    "display_title",
    "maturity_level",
    "max_level",
    "page_count",
    "page_offset",
    "sort_key",
]


class Sort(StrEnum):
    """Browse orders: most popular first, newest first, or by title A to Z."""

    POPULARITY = "popularity"
    YEAR = "year"
    TITLE = "title"


# Level of each rating: a profile sees a title when the title's level is at most the
# profile's ceiling. Unknown ("NR") sits above everything, so only adults see it.
MOVIE_RATINGS = ("G", "PG", "PG-13", "R", "NC-17")
SERIES_RATINGS = ("TV-Y", "TV-PG", "TV-14", "TV-MA")
RATINGS: dict[str, int] = {
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
# A profile's maturity is the ceiling it browses under (users' "kids" | "teen" | "adult").
MATURITY_CEILINGS: dict[str, int] = {"kids": 1, "teen": 2, "adult": 5}

# Articles the sources move to the end ("Matrix, The"; "Boot, Das"; "Avventura, L'").
_ARTICLES = (
    "The|An|A|Les|Le|La|L'|Los|Las|El|Il|Lo|Gli|I|Un'|Una|Uno|Un|Une|Die|Der|Das|Den|Det|De|"
    "Het|Een|Ett|En|Ein|Eine|O|Os|As|Oi|Ta|To|Az|Ha-|al-"
)
_TRAILING_ARTICLE = re.compile(rf"^(?P<body>.+?), (?P<article>{_ARTICLES})$")
_SEGMENT = re.compile(r"\s*\(([^()]*)\)|([^()]+)")
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


def _fold(segment: str) -> str:
    text = segment.strip()
    match = _TRAILING_ARTICLE.match(text)
    if match is None:
        return text
    article, body = match["article"], match["body"]
    # Elided and prefixed articles join the word: "L'Avventura", "Ha-Buah", "al-Ard".
    return f"{article}{body}" if article[-1] in "'-" else f"{article} {body}"


def display_title(raw: str) -> str:
    """Return the display form of a source title: ``"Matrix, The"`` becomes ``"The Matrix"``.

    Alternate titles in parentheses are folded too: ``"Boot, Das (Boat, The)"`` becomes
    ``"Das Boot (The Boat)"``. Anything that is not a trailing article stays as it was.
    """
    text = " ".join(raw.split())
    if "(" not in text:
        return _fold(text)
    parts: list[str] = []
    for match in _SEGMENT.finditer(text):
        inner, outer = match.group(1), match.group(2)
        if inner is not None:
            parts.append(f"({_fold(inner)})")
        elif outer.strip():
            parts.append(_fold(outer))
    folded = " ".join(parts)
    # Unbalanced parentheses are left alone rather than mangled.
    return folded if folded.count("(") == text.count("(") else text


def sort_key(name: str) -> str:
    """Return what ``sort=title`` orders by: lower case, without a leading English article."""
    return _LEADING_ARTICLE.sub("", name.strip().casefold(), count=1)[:200]


def maturity_level(rating: str) -> int:
    """Return the level of a maturity rating; raise ValueError for an unknown one."""
    try:
        return RATINGS[rating]
    except KeyError:
        raise ValueError(f"unknown maturity rating {rating!r}") from None


def max_level(max_maturity: str | None) -> int:
    """Return the highest level a profile maturity may see (no filter: everything)."""
    if max_maturity is None:
        return MATURITY_CEILINGS["adult"]
    try:
        return MATURITY_CEILINGS[max_maturity]
    except KeyError:
        raise ValueError(f"unknown maturity {max_maturity!r}") from None


def check_rating(kind: str, rating: str) -> None:
    """Raise ValueError unless ``rating`` is a rating a title of ``kind`` can carry."""
    allowed = MOVIE_RATINGS if kind == "movie" else SERIES_RATINGS
    if rating != "NR" and rating not in allowed:
        raise ValueError(
            f"maturity rating {rating!r} is not for a {kind}; use one of {', '.join(allowed)}, NR"
        )


def page_offset(page: int, page_size: int) -> int:
    """Return the offset of the first item of a 1-based page."""
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size start at 1")
    return (page - 1) * page_size


def page_count(total: int, page_size: int) -> int:
    """Return how many pages ``total`` items fill (0 when there are none)."""
    if page_size < 1:
        raise ValueError("page_size starts at 1")
    return -(-max(total, 0) // page_size)
