"""Search's viewing history on real engines and real JetStream.

Storage: a SQLite file and PostgreSQL (when ``MATINEE_TEST_POSTGRES_URL`` is set), each
written by two "instances" at once. Feed: playback events published on JetStream reach
the history once, through two search instances sharing one durable, even when the
whole stream is replayed; the taste then appears for that profile and no other.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from matinee.platform.events import JetStreamBus
from matinee.platform.events.jetstream import stream_name
from matinee.platform.storage import Database
from matinee.services.playback.events import PlaybackStarted, PlaybackStopped, Rebuffered
from matinee.services.search.app import create_app
from matinee.services.search.domain import TitleDoc
from matinee.services.search.domain.history import Viewing
from matinee.services.search.domain.model import MAX_GENRE_FACTOR, MAX_TITLE_FACTOR
from matinee.services.search.domain.taste import FINISHED_TITLE_FACTOR, Watched
from matinee.services.search.settings import SearchSettings
from matinee.services.search.storage import MIGRATIONS, MemoryTitleFeed, SqlWatchHistory
from matinee.services.search.storage.viewing import DURABLE
from tests.contract.conftest import serve
from tests.integration.conftest import NatsServer

T0 = 1_750_000_000.0


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'search.db'}"


@pytest.fixture
async def two_instances(database_url: str) -> AsyncIterator[tuple[SqlWatchHistory, ...]]:
    """Two histories on one database, as two search instances have."""
    dbs = [Database("search", database_url), Database("search", database_url)]
    try:
        for db in dbs:
            assert await db.start(MIGRATIONS)
        yield tuple(SqlWatchHistory(db) for db in dbs)
    finally:
        for db in dbs:
            await db.close()


def stopped(n: int, *, account: str = "acc-1", profile: str = "p1", title: int = 2, **kw):
    values = {"at": T0 + n, "position_s": 60.0 * (n + 1), "watched_s": 60.0, **kw}
    return Viewing(f"ev-{account}-{n}", account, profile, title, started=False, **values)


async def test_rows_are_kept_per_account_and_profile_latest_first(two_instances):
    one, _ = two_instances
    assert await one.record(stopped(0, title=1))
    assert await one.record(stopped(1, title=2))
    assert await one.record(stopped(2, title=3, profile="p2"))
    assert await one.record(stopped(3, title=4, account="acc-2"))
    assert [r.title_id for r in await one.recent("acc-1", "p1", 10)] == [2, 1]
    assert [r.title_id for r in await one.recent("acc-1", "p1", 1)] == [2]
    assert [r.title_id for r in await one.recent("acc-2", "p1", 10)] == [4]
    assert await one.recent("acc-3", "p1", 10) == []
    assert await one.recent("acc-1", "p9", 10) == []


async def test_an_event_id_is_applied_once_whichever_instance_sees_it(two_instances):
    one, two = two_instances
    fact = stopped(0, watched_s=1800.0, position_s=1800.0)
    results = await asyncio.gather(one.record(fact), two.record(fact), one.record(fact))
    assert sorted(results) == [False, False, True]
    assert await two.recent("acc-1", "p1", 10) == [
        Watched(2, watched_s=1800.0, position_s=1800.0, last_at=T0, finished=False)
    ]


async def test_concurrent_facts_for_one_profile_all_count(two_instances):
    one, two = two_instances
    facts = [stopped(n) for n in range(20)]
    await asyncio.gather(*((one if n % 2 else two).record(f) for n, f in enumerate(facts)))
    (row,) = await one.recent("acc-1", "p1", 10)
    assert row.watched_s == 20 * 60.0  # none lost to a race between the two writers
    assert (row.last_at, row.position_s) == (T0 + 19, 60.0 * 20)  # the latest fact wins


async def test_finished_follows_the_duration_whichever_instance_writes(two_instances):
    one, two = two_instances
    assert await one.record(stopped(0, position_s=5500.0, duration_s=6000.0))
    (row,) = await two.recent("acc-1", "p1", 10)
    assert row.finished  # 90% of the duration
    assert await two.record(stopped(1, position_s=600.0, duration_s=6000.0))  # a rewatch
    (row,) = await one.recent("acc-1", "p1", 10)
    assert not row.finished and row.position_s == 600.0


async def test_old_event_ids_are_forgotten(two_instances):
    one, _ = two_instances
    await one.record(stopped(0))
    assert await one.forget_events(before=0.0) == 0
    assert await one.forget_events(before=datetime.now(UTC).timestamp() + 1) == 1


# --- the feed, on JetStream ---------------------------------------------------------

DOCS = [
    TitleDoc(1, "The Matrix", 1999, 900.0, ("Action", "Sci-Fi")),
    TitleDoc(2, "The Matrix Reloaded", 2003, 500.0, ("Action", "Sci-Fi")),
    TitleDoc(5, "Mary Poppins", 1964, 300.0, ("Family",)),
]


async def eventually(check, timeout: float = 15.0):  # noqa: ASYNC109
    """Return ``await check()`` once it is truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = await check()
        if value or loop.time() > end:
            assert value, "timed out"
            return value
        await asyncio.sleep(0.05)


async def test_playback_events_become_history_and_a_taste_once_even_when_replayed(
    tmp_path, nats_server: NatsServer
):
    account = f"acc-{secrets.token_hex(4)}"  # unique in the session's shared stream
    settings = SearchSettings(data_dir=tmp_path, nats_url=nats_server.url)
    apps = [create_app(settings, feed=MemoryTitleFeed(DOCS)) for _ in range(2)]
    playback = await JetStreamBus.connect(nats_server.url, service="itest-playback")
    try:
        async with serve(apps[0]), serve(apps[1]):
            for app in apps:
                await eventually(lambda app=app: _subscribed(app))
            history = apps[0].state.history
            ids = {"account_id": account, "profile_id": "p1", "session_id": "s1"}
            begun = datetime.fromtimestamp(datetime.now(UTC).timestamp() - 3600, UTC)
            await playback.publish(PlaybackStarted(**ids, title_id=2, occurred_at=begun))
            await playback.publish(Rebuffered(**ids, title_id=2, position_s=10.0))
            await playback.publish(
                PlaybackStopped(**ids, title_id=2, position_s=1800.0, watched_s=1800.0,
                                duration_s=8000.0)
            )  # fmt: skip
            # The first film, watched into its credits (past 90% of its duration) an hour ago.
            await playback.publish(
                PlaybackStopped(**ids, title_id=1, position_s=7900.0, watched_s=7900.0,
                                duration_s=8160.0, occurred_at=begun)
            )  # fmt: skip
            other = {**ids, "account_id": f"{account}-other", "session_id": "s2"}
            await playback.publish(PlaybackStopped(**other, title_id=5, watched_s=600.0))

            async def rows():
                found = await history.recent(account, "p1", 10)
                return found if len(found) == 2 and found[0].watched_s > 0 else None

            row, first = await eventually(rows)
            assert (row.title_id, row.watched_s, row.position_s) == (2, 1800.0, 1800.0)
            assert (first.title_id, first.finished, row.finished) == (1, True, False)

            # The taste appears, for that account's profile only: the film in progress
            # lifted most, the finished one less.
            taste = await apps[1].state.hints.taste(account, "p1")
            assert taste is not None
            assert taste.titles == {
                2: pytest.approx(MAX_TITLE_FACTOR),
                1: pytest.approx(FINISHED_TITLE_FACTOR, rel=1e-3),
            }
            assert taste.genres == {"Action": MAX_GENRE_FACTOR, "Sci-Fi": MAX_GENRE_FACTOR}
            assert await apps[1].state.hints.taste(f"{account}-x", "p1") is None

            # Replay: the durable is lost and made again, so the whole stream comes back.
            await playback.js.delete_consumer(stream_name("playback"), DURABLE)
            await eventually(lambda: _replayed(playback))
            assert await history.recent(account, "p1", 10) == [row, first]
            (theirs,) = await history.recent(f"{account}-other", "p1", 10)
            assert theirs.watched_s == 600.0
    finally:
        await playback.close()


async def _subscribed(app) -> bool:
    return app.state.follower.subscription is not None


async def _replayed(bus: JetStreamBus) -> bool:
    try:
        info = await bus.js.consumer_info(stream_name("playback"), DURABLE)
    except Exception:
        return False
    # Made again from the start: it has delivered at least this test's five events again.
    return info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.consumer_seq >= 5
