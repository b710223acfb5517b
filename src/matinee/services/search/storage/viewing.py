"""Playback's ``started`` and ``stopped`` events, followed into search's viewing history.

An ordinary durable consumer (unlike the title feed): every search instance binds the
same durable, ``search-history``, so JetStream splits the events between them and each
is written once to the shared tables. Redeliveries and replays are harmless, since the
history applies each event id once; an event the handler keeps failing on (its database
down through every retry) goes to the platform's dead letters.

The durable reads every ``matinee.playback.*`` event and acknowledges the ones it does
not need: a bus subscription has one subject filter, and an event type it had no schema
for would be dead-lettered.

| usage | effect |
|---|---|
| ``await follow_viewing(bus, history)`` | a running :class:`Subscription` |
| ``viewing_of(PlaybackStopped(...))`` | the :class:`Viewing` it records, None to skip |
"""

from __future__ import annotations

import logging
import math

from matinee.platform.events import Event, EventBus, Subscription
from matinee.services.playback.events import EVENTS, PlaybackStarted, PlaybackStopped
from matinee.services.search.domain.history import Viewing
from matinee.services.search.domain.ports import WatchHistory

__all__ = ["DURABLE", "EVENT_ID_RETENTION_S", "SUBJECTS", "follow_viewing", "viewing_of"]

log = logging.getLogger("matinee.search.history")

DURABLE = "search-history"
SUBJECTS = "matinee.playback.>"
# Applied event ids are kept a day longer than the playback stream keeps events (7 days),
# so even a replay of the whole stream applies nothing twice.
EVENT_ID_RETENTION_S = 8 * 86_400.0
# The history's column sizes; longer ids are not a profile playback would name.
_MAX_ID = 100


def _seconds(value: float) -> float:
    return value if math.isfinite(value) and value > 0 else 0.0


def viewing_of(event: Event) -> Viewing | None:
    """Return what a playback event adds to a profile's history; None for nothing."""
    if isinstance(event, PlaybackStarted):
        started, position, watched = True, event.resume_position_s, 0.0
    elif isinstance(event, PlaybackStopped):
        started, position, watched = False, event.position_s, event.watched_s
    else:
        return None
    account, profile = event.account_id, event.profile_id
    if not account or not profile or len(account) > _MAX_ID or len(profile) > _MAX_ID:
        return None
    if event.title_id <= 0:
        return None
    return Viewing(
        event_id=event.event_id,
        account_id=account,
        profile_id=profile,
        title_id=event.title_id,
        at=event.occurred_at.timestamp(),
        started=started,
        position_s=_seconds(position),
        watched_s=_seconds(watched),
        # 0 (unknown) from a playback older than the field: advance() then guesses.
        duration_s=_seconds(event.duration_s),
    )


async def follow_viewing(bus: EventBus, history: WatchHistory) -> Subscription:
    """Record playback's starts and stops in ``history`` under the shared durable."""

    async def on_event(event: Event) -> None:
        fact = viewing_of(event)
        if fact is not None:
            await history.record(fact)

    return await bus.subscribe(SUBJECTS, DURABLE, on_event, schemas=list(EVENTS.values()))
