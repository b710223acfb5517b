"""A profile's taste from its viewing history: the personal hint of suggest and search.

The hint is a :class:`Taste`, factors >= 1 that multiply a matching title's popularity
when the index ranks (never a filter, never above fewer typos). It is built from the
profile's most recent titles (``MAX_TITLES`` rows) and the genres the index knows:

- **Recency.** Every title weighs ``w = 0.5 ** (days since last watched / 30)``: a title
  watched today counts fully, one from a month ago half, one from a quarter ago an eighth.
- **Titles.** A title started and not finished gets ``1 + (10 - 1) * w`` (up to
  ``MAX_TITLE_FACTOR``: the one you are halfway through comes first among equals); a
  finished one ``1 + (3 - 1) * w`` (people rewatch less). Finished: the viewer got past
  90% of the title's duration (``history.advance``; guessed when playback gave no
  duration).
- **Genres.** A title's viewing time is ``max(watched_s, position_s) * w``; a genre's share
  is the time spent on titles of that genre over all the time (titles the index does not
  know are left out of both). Its factor is ``1 + 2 * share``, at most ``MAX_GENRE_FACTOR``.
- **Size.** Only the ``TASTE_TITLES`` strongest title factors are kept, none under
  ``MIN_TITLE_FACTOR`` (about half a year old): the index checks every title of the
  taste on every query, and an old title would lift almost nothing anyway.

| usage | gives |
|---|---|
| ``taste_of([Watched(603, 3600, 1800, last_at=t)], genres_of, now=t)`` | ``{603: 10.0}``, genres |
| ``recency(now - 30 * DAY, now)`` | ``0.5`` |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from matinee.services.search.domain.model import MAX_GENRE_FACTOR, MAX_TITLE_FACTOR, Taste

__all__ = [
    "DAY",
    "FINISHED_TITLE_FACTOR",
    "GENRE_WEIGHT",
    "HALF_LIFE_DAYS",
    "MAX_TITLES",
    "MIN_TITLE_FACTOR",
    "TASTE_TITLES",
    "Watched",
    "recency",
    "taste_of",
]

DAY = 86_400.0
HALF_LIFE_DAYS = 30.0
# The most a finished title is lifted (a title in progress: MAX_TITLE_FACTOR).
FINISHED_TITLE_FACTOR = 3.0
# A genre's factor is 1 + GENRE_WEIGHT * its share of the viewing time.
GENRE_WEIGHT = 2.0
# Only the most recent titles count: older ones weigh little and the hint stays small.
MAX_TITLES = 200
# Titles lifted per taste, and the least lift worth its cost on every query.
TASTE_TITLES = 50
MIN_TITLE_FACTOR = 1.1


@dataclass(frozen=True, slots=True)
class Watched:
    """What one profile did with one title: time spent, where it stands, when, finished."""

    title_id: int
    watched_s: float = 0.0  # total seconds watched over every session
    position_s: float = 0.0  # where the last session left it
    last_at: float = 0.0  # Unix time of the latest start or stop
    finished: bool = False  # watched to (near) the end: see ``history.advance``


def recency(last_at: float, now: float) -> float:
    """Return the weight of viewing at ``last_at``: 1 now, halved every 30 days."""
    age_days = max(0.0, now - last_at) / DAY
    return float(0.5 ** (age_days / HALF_LIFE_DAYS))


def taste_of(
    history: Iterable[Watched],
    genres_of: Callable[[int], Sequence[str]],
    *,
    now: float,
) -> Taste:
    """Return the hint for one profile's history; an empty ``Taste`` for no history."""
    titles: dict[int, float] = {}
    genre_time: dict[str, float] = {}
    total = 0.0
    for row in history:
        w = recency(row.last_at, now)
        top = FINISHED_TITLE_FACTOR if row.finished else MAX_TITLE_FACTOR
        titles[row.title_id] = max(titles.get(row.title_id, 1.0), 1.0 + (top - 1.0) * w)
        genres = set(genres_of(row.title_id))
        time = max(row.watched_s, row.position_s, 0.0) * w
        if not genres or time <= 0:
            continue
        total += time
        for genre in genres:
            genre_time[genre] = genre_time.get(genre, 0.0) + time
    genres_factor = {
        genre: min(1.0 + GENRE_WEIGHT * spent / total, MAX_GENRE_FACTOR)
        for genre, spent in genre_time.items()
    }
    strongest = sorted(titles.items(), key=lambda item: -item[1])[:TASTE_TITLES]
    kept = {title: factor for title, factor in strongest if factor >= MIN_TITLE_FACTOR}
    return Taste(titles=kept, genres=genres_factor)
