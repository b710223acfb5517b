"""Viewing history as search keeps it: one row per (account, profile, title), from playback.

Playback publishes ``started`` (at the resume position) and ``stopped`` (at a position,
after some watched seconds); both carry the asset's duration, 0 when playback does not
know it. Each fact moves the row on with :func:`advance`:

- watched seconds add up (each event is applied once: the store keeps event ids);
- position, time and the finished flag follow the latest fact; a fact older than the
  row (a late redelivery) only adds its watched seconds;
- **finished**, when the fact carries a duration: a fact at a position reaches the end
  when the position is at least ``FINISHED_FRACTION`` (90%) of the duration, so a stop
  there finishes the title and a stop or start part-way (a rewatch under way) makes it
  in progress again. A fact at 0 is a restart, which says nothing about how far the
  viewer got: the title stays finished if it was, and becomes finished if the row's
  last position reached the end (a stop that came without a duration).
  The position decides, not the watched seconds: those are wall-clock time of a session,
  pauses included, and 0 for a session that expired;
- **finished**, when the duration is unknown (0), is inferred as before: playback
  restarts a title from 0 only when its last position was near the end, so a start at
  0 after a stop part-way (or after a finish) means finished, and a stop part-way makes
  it in progress again.

| usage | gives |
|---|---|
| ``advance(None, Viewing(..., started=False, position_s=5500, duration_s=6000))`` | finished |
| ``advance(None, Viewing(..., started=False, position_s=3000, duration_s=6000))`` | in progress |
"""

from __future__ import annotations

from dataclasses import dataclass

from matinee.services.search.domain.taste import Watched

__all__ = ["FINISHED_FRACTION", "Viewing", "advance", "reached_end"]

# A title is finished once the position reaches this share of its duration: past the
# story, into the credits of a feature (a 2 h film: its last 12 minutes).
FINISHED_FRACTION = 0.9


@dataclass(frozen=True, slots=True)
class Viewing:
    """One playback fact about a profile and a title."""

    event_id: str
    account_id: str
    profile_id: str
    title_id: int
    at: float  # Unix time the fact occurred
    started: bool  # True: a session started at ``position_s``; False: one stopped there
    position_s: float = 0.0
    watched_s: float = 0.0
    duration_s: float = 0.0  # the asset's duration; 0 when playback did not say


def reached_end(position_s: float, duration_s: float) -> bool:
    """Return whether ``position_s`` is far enough through a title of ``duration_s``."""
    return duration_s > 0 and position_s >= FINISHED_FRACTION * duration_s


def advance(row: Watched | None, fact: Viewing) -> Watched:
    """Return the row after ``fact`` (``row`` None: the profile's first fact on the title)."""
    if row is None:
        row = Watched(fact.title_id, last_at=fact.at)
    watched = row.watched_s + max(fact.watched_s, 0.0)
    if fact.at < row.last_at:
        return Watched(row.title_id, watched, row.position_s, row.last_at, row.finished)
    position = max(fact.position_s, 0.0)
    if fact.duration_s > 0:
        if position > 0:
            finished = reached_end(position, fact.duration_s)
        else:
            finished = row.finished or reached_end(row.position_s, fact.duration_s)
    elif fact.started:
        finished = position == 0 and (row.position_s > 0 or row.finished)
    else:
        finished = row.finished if position == 0 else False
    return Watched(row.title_id, watched, position, fact.at, finished)
