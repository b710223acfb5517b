"""Viewing history as search keeps it: one row per (account, profile, title), from playback.

Playback publishes ``started`` (at the resume position) and ``stopped`` (at a position,
after some watched seconds). Each fact moves the row on with :func:`advance`:

- watched seconds add up (each event is applied once: the store keeps event ids);
- position, time and the finished flag follow the latest fact; a fact older than the
  row (a late redelivery) only adds its watched seconds;
- **finished** is inferred, since playback's events carry no duration: playback restarts
  a title from 0 only when its last position was near the end, so a start at 0 after a
  stop part-way (or after a finish) means finished. A later stop part-way (a rewatch
  under way) makes it in progress again.
"""

from __future__ import annotations

from dataclasses import dataclass

from matinee.services.search.domain.taste import Watched

__all__ = ["Viewing", "advance"]


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


def advance(row: Watched | None, fact: Viewing) -> Watched:
    """Return the row after ``fact`` (``row`` None: the profile's first fact on the title)."""
    if row is None:
        row = Watched(fact.title_id, last_at=fact.at)
    watched = row.watched_s + max(fact.watched_s, 0.0)
    if fact.at < row.last_at:
        return Watched(row.title_id, watched, row.position_s, row.last_at, row.finished)
    position = max(fact.position_s, 0.0)
    if fact.started:
        finished = position == 0 and (row.position_s > 0 or row.finished)
    else:
        finished = row.finished if position == 0 else False
    return Watched(row.title_id, watched, position, fact.at, finished)
