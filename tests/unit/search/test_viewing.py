"""Playback's events become viewing history: once each, whoever delivers them, never a loop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from matinee.platform.events import InMemoryBus
from matinee.platform.storage import Database, DatabaseUnavailable
from matinee.services.playback.events import (
    BitrateSwitched,
    PlaybackStarted,
    PlaybackStopped,
    Rebuffered,
)
from matinee.services.search.domain.history import Viewing
from matinee.services.search.domain.taste import Watched
from matinee.services.search.storage import MIGRATIONS, SqlWatchHistory, follow_viewing, viewing_of

T0 = datetime(2025, 6, 1, 20, 0, tzinfo=UTC)


@pytest.fixture
async def history():
    db = Database("search", "sqlite:///:memory:")
    assert await db.start(MIGRATIONS)
    try:
        yield SqlWatchHistory(db)
    finally:
        await db.close()


def ids(**kw):
    return {"account_id": "acc-1", "profile_id": "p1", "title_id": 2, "session_id": "s1", **kw}


async def test_starts_and_stops_become_a_row_per_profile_and_title(history):
    bus = InMemoryBus()
    await follow_viewing(bus, history)
    start = T0.timestamp()
    await bus.publish(PlaybackStarted(**ids(), occurred_at=T0))
    await bus.publish(Rebuffered(**ids(), position_s=30.0))
    await bus.publish(BitrateSwitched(**ids(), position_s=40.0, from_kbps=900, to_kbps=2000))
    stopped = datetime.fromtimestamp(start + 1800, UTC)
    await bus.publish(
        PlaybackStopped(**ids(), position_s=1790.0, watched_s=1800.0, occurred_at=stopped)
    )
    assert await history.recent("acc-1", "p1", 10) == [
        Watched(2, watched_s=1800.0, position_s=1790.0, last_at=start + 1800, finished=False)
    ]
    assert await history.recent("acc-2", "p1", 10) == []  # another account: nothing
    assert bus.dead_letters == []  # the other playback events are simply acknowledged


async def test_the_duration_playback_sends_decides_what_is_finished(history):
    bus = InMemoryBus()
    await follow_viewing(bus, history)
    at = [datetime.fromtimestamp(T0.timestamp() + s, UTC) for s in (0, 10, 20)]
    # Title 2 watched into the credits; title 3 stopped at a third, then restarted at 0.
    await bus.publish(PlaybackStopped(**ids(), position_s=5500.0, watched_s=5500.0,
                                      duration_s=6000.0, occurred_at=at[0]))  # fmt: skip
    await bus.publish(PlaybackStopped(**ids(title_id=3), position_s=2000.0, watched_s=2000.0,
                                      duration_s=6000.0, occurred_at=at[1]))  # fmt: skip
    await bus.publish(PlaybackStarted(**ids(title_id=3), duration_s=6000.0, occurred_at=at[2]))
    rows = {r.title_id: r for r in await history.recent("acc-1", "p1", 10)}
    assert rows[2].finished and (rows[2].position_s, rows[2].watched_s) == (5500.0, 5500.0)
    assert not rows[3].finished and rows[3].position_s == 0.0
    # A playback from before the field sends no duration: the restart is guessed finished.
    older = ids(title_id=4)
    await bus.publish(PlaybackStopped(**older, position_s=2000.0, occurred_at=at[0]))
    await bus.publish(PlaybackStarted(**older, occurred_at=at[1]))
    (guessed,) = [r for r in await history.recent("acc-1", "p1", 10) if r.title_id == 4]
    assert guessed.finished


async def test_an_event_delivered_to_two_instances_counts_once(history):
    one, two = InMemoryBus(), InMemoryBus()
    await follow_viewing(one, history)
    await follow_viewing(two, history)
    event = PlaybackStopped(**ids(), position_s=600.0, watched_s=600.0, occurred_at=T0)
    await one.publish(event)
    await two.publish(event)  # a redelivery or replay reaching another instance
    (row,) = await history.recent("acc-1", "p1", 10)
    assert row.watched_s == 600.0


async def test_events_naming_no_profile_are_skipped(history):
    bus = InMemoryBus()
    await follow_viewing(bus, history)
    await bus.publish(PlaybackStopped(**ids(profile_id=""), watched_s=60.0))
    await bus.publish(PlaybackStopped(**ids(title_id=0), watched_s=60.0))
    await bus.publish(PlaybackStopped(**ids(profile_id="x" * 101), watched_s=60.0))
    assert await history.recent("acc-1", "p1", 10) == []
    assert bus.dead_letters == []


def test_impossible_numbers_count_as_nothing():
    stopped = PlaybackStopped(**ids(), position_s=float("nan"), watched_s=-5.0)
    fact = viewing_of(stopped)
    assert fact is not None and (fact.position_s, fact.watched_s) == (0.0, 0.0)
    for duration in (float("inf"), -1.0):
        odd = viewing_of(PlaybackStopped(**ids(), position_s=10.0, duration_s=duration))
        assert odd is not None and odd.duration_s == 0.0  # unknown: the guess applies
    assert viewing_of(Rebuffered(**ids())) is None


async def test_a_history_that_keeps_failing_dead_letters_the_event():
    class Down:
        async def record(self, fact: Viewing) -> bool:
            raise DatabaseUnavailable("database for search is unavailable")

        async def recent(self, account_id: str, profile_id: str, limit: int) -> list[Watched]:
            return []

    bus = InMemoryBus()
    await follow_viewing(bus, Down())
    await bus.publish(PlaybackStopped(**ids(), watched_s=60.0))
    assert [(s, d) for s, d, _ in bus.dead_letters] == [
        ("matinee.deadletter.playback.stopped", "search-history")
    ]
