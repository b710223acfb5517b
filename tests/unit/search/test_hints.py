"""The hint cache: one history read per profile per TTL, never an error, never a long wait."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from matinee.platform.storage import DatabaseUnavailable
from matinee.services.search.domain.hints import Hints, genres_in
from matinee.services.search.domain.history import Viewing
from matinee.services.search.domain.live import LiveIndex
from matinee.services.search.domain.model import MAX_TITLE_FACTOR
from matinee.services.search.domain.taste import MAX_TITLES, Watched
from tests.unit.search.fixtures import TITLES

NOW = 1_750_000_000.0


class FakeHistory:
    """Rows per (account, profile); counts reads; can fail or hold reads until opened."""

    def __init__(self, rows: dict[tuple[str, str], list[Watched]]) -> None:
        self.rows = rows
        self.reads: list[tuple[str, str, int]] = []
        self.fail: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def record(self, fact: Viewing) -> bool:
        raise NotImplementedError

    async def recent(self, account_id: str, profile_id: str, limit: int) -> list[Watched]:
        self.reads.append((account_id, profile_id, limit))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return self.rows.get((account_id, profile_id), [])


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


HALFWAY = [Watched(2, watched_s=3600, position_s=3600, last_at=NOW)]


def make(history: FakeHistory, clock: Clock, **kw) -> Hints:
    view = LiveIndex(TITLES).view
    options = {"ttl": 5.0, "wait": 1.0, "clock": clock, "now": lambda: NOW, **kw}
    return Hints(history, lambda: view, **options)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_typing_reads_the_history_once_per_ttl():
    history, clock = FakeHistory({("acc-1", "p1"): HALFWAY}), Clock()
    hints = make(history, clock)
    for _ in range(20):  # a burst of keystrokes
        taste = await hints.taste("acc-1", "p1")
        assert taste is not None and taste.titles[2] == pytest.approx(MAX_TITLE_FACTOR)
        clock.t += 0.1
    assert history.reads == [("acc-1", "p1", MAX_TITLES)]
    assert taste.genres == {"Action": 3.0, "Sci-Fi": 3.0}  # the index's genres of title 2


async def test_a_stale_hint_answers_at_once_while_one_read_refreshes_it():
    history, clock = FakeHistory({("acc-1", "p1"): HALFWAY}), Clock()
    hints = make(history, clock)
    await hints.taste("acc-1", "p1")
    history.gate = asyncio.Event()  # the next read hangs
    clock.t += 6
    for _ in range(3):
        assert (await hints.taste("acc-1", "p1")) is not None  # stale, not waited for
    await settle()
    assert len(history.reads) == 2  # one refresh in flight, not three
    history.rows[("acc-1", "p1")] = []
    history.gate.set()
    await settle()
    assert await hints.taste("acc-1", "p1") is None  # the refresh landed: history is gone
    assert len(history.reads) == 2


async def test_a_long_idle_profile_is_read_again_before_answering():
    history, clock = FakeHistory({("acc-1", "p1"): HALFWAY}), Clock()
    hints = make(history, clock, keep=30.0)
    await hints.taste("acc-1", "p1")
    clock.t += 60
    history.rows[("acc-1", "p1")] = []
    assert await hints.taste("acc-1", "p1") is None  # the old hint is not served
    assert len(history.reads) == 2


async def test_the_same_profile_id_under_another_account_has_no_hint():
    history, clock = FakeHistory({("acc-1", "p1"): HALFWAY}), Clock()
    hints = make(history, clock)
    assert await hints.taste("acc-2", "p1") is None
    assert await hints.taste("acc-1", "p1") is not None
    assert [r[:2] for r in history.reads] == [("acc-2", "p1"), ("acc-1", "p1")]


async def test_a_failing_history_is_no_hint_logged_once_then_recovers(caplog):
    history, clock = FakeHistory({("acc-1", "p1"): HALFWAY}), Clock()
    history.fail = DatabaseUnavailable("database for search is unavailable")
    hints = make(history, clock)
    with caplog.at_level(logging.INFO, logger="matinee.search.hints"):
        assert await hints.taste("acc-1", "p1") is None
        assert await hints.taste("acc-1", "p1") is None  # cached: not read again
        assert await hints.taste("acc-1", "p2") is None
        assert len(history.reads) == 2
        history.fail = None
        clock.t += 6
        await hints.taste("acc-1", "p1")  # stale answer, refresh in the background
        await settle()
        assert await hints.taste("acc-1", "p1") is not None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "without hints" in warnings[0].getMessage()
    assert any("hints are back" in r.getMessage() for r in caplog.records)


async def test_a_slow_read_does_not_hold_the_request_and_still_fills_the_cache():
    history, clock = FakeHistory({("acc-1", "p1"): HALFWAY}), Clock()
    history.gate = asyncio.Event()
    hints = make(history, clock, wait=0.01)
    assert await hints.taste("acc-1", "p1") is None  # answered without the hint
    history.gate.set()
    await settle()
    assert await hints.taste("acc-1", "p1") is not None
    assert len(history.reads) == 1


async def test_concurrent_requests_share_one_read():
    history, clock = FakeHistory({("acc-1", "p1"): HALFWAY}), Clock()
    history.gate = asyncio.Event()
    hints = make(history, clock)
    waiting = [asyncio.create_task(hints.taste("acc-1", "p1")) for _ in range(10)]
    await settle()
    history.gate.set()
    tastes = await asyncio.gather(*waiting)
    assert all(t is not None for t in tastes) and len(history.reads) == 1


async def test_the_cache_holds_a_bounded_number_of_profiles():
    history, clock = FakeHistory({}), Clock()
    hints = make(history, clock, max_profiles=3)
    for n in range(5):
        await hints.taste("acc-1", f"p{n}")
    await hints.taste("acc-1", "p4")  # among the newest: cached
    assert len(history.reads) == 5
    await hints.taste("acc-1", "p0")  # pushed out: read again
    assert len(history.reads) == 6


async def test_close_cancels_reads_in_flight():
    history, clock = FakeHistory({}), Clock()
    history.gate = asyncio.Event()
    hints = make(history, clock, wait=0.0)
    await hints.taste("acc-1", "p1")
    await hints.close()
    await settle()
    history.gate.set()
    assert await hints.taste("acc-1", "p1") is None and len(history.reads) == 2


def test_genres_come_from_the_newest_entry_of_a_title():
    live = LiveIndex(TITLES)
    live.stage([dataclasses.replace(TITLES[4], genres=("Musical",))], position=1)
    view = live.publish()
    genres = genres_in(view)
    assert tuple(genres(5)) == ("Musical",)
    assert tuple(genres(1)) == ("Action", "Sci-Fi")
    assert tuple(genres(12345)) == ()
