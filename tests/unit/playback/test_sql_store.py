"""Playback's SQL store on a SQLite file: two instances share leases without overbooking."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from matinee.platform.storage import Database
from matinee.services.playback.domain.model import (
    Asset,
    Heartbeat,
    Rung,
    Session,
    SessionEnded,
    StreamLimitReached,
)
from matinee.services.playback.storage import MIGRATIONS, SqlPlaybackStore
from tests.playback_upgrade import make_version_one

ASSET = Asset("0123456789abcdef", 1, 60.0, (Rung("240p", 426, 240, 400, 350, "avc1.42c015"),))


def session(sid: str, account: str = "a", now: float = 1000.0) -> Session:
    return Session(sid, account, "p", 1, ASSET.asset_id, now, now + 60)


@pytest.fixture
async def stores(tmp_path):
    dbs = [Database("playback", f"sqlite:///{tmp_path / 'playback.db'}") for _ in range(2)]
    for db in dbs:
        assert await db.start(MIGRATIONS)
    yield [SqlPlaybackStore(db) for db in dbs]
    for db in dbs:
        await db.close()


async def test_assets_and_title_mappings_round_trip(stores):
    store = stores[0]
    assert await store.title_asset(1) == (None, None)
    await store.map_title(2, ASSET.asset_id)
    assert await store.title_asset(2) == (ASSET.asset_id, None)
    await store.put_asset(ASSET)
    _, asset = await stores[1].title_asset(2)
    assert asset is not None and asset.title_id == 2 and asset.rungs == ASSET.rungs


async def test_two_instances_racing_never_exceed_the_plan(stores):
    async def take(i: int) -> bool:
        try:
            await stores[i % 2].open_session(session(f"s{i}"), max_streams=2, now=1000.0)
        except StreamLimitReached:
            return False
        return True

    results = await asyncio.gather(*(take(i) for i in range(10)))
    assert sum(results) == 2


async def test_leases_renew_lapse_and_are_retaken(stores):
    store = stores[0]
    await store.open_session(session("s1"), max_streams=1, now=1000.0)
    _, after = await store.renew("a", "s1", Heartbeat(5.0, throughput_kbps=3000),
                                      now=1030.0, ttl_s=60, max_streams=1)  # fmt: skip
    assert after.lease_expires_at == 1090.0 and after.position_s == 5.0
    expired = await store.expire(2000.0)
    assert [s.session_id for s in expired] == ["s1"]
    assert await store.expire(2000.0) == []  # once only, whichever instance sweeps
    # The lapsed client comes back: its lease is taken again while the plan has room.
    _, revived = await store.renew("a", "s1", Heartbeat(6.0), now=2001.0, ttl_s=60, max_streams=1)
    assert revived.state == "active"
    position, prior = await store.viewer_state("a", "p", 1)
    assert position == 6.0 and prior == 3000


async def test_stop_is_final_and_idempotent(stores):
    store = stores[0]
    await store.open_session(session("s1"), max_streams=1, now=1000.0)
    _, ended = await store.stop("a", "s1", 9.0, now=1001.0)
    assert ended
    _, again = await store.stop("a", "s1", 9.0, now=1002.0)
    assert not again
    with pytest.raises(SessionEnded):
        await store.renew("a", "s1", Heartbeat(10.0), now=1003.0, ttl_s=60, max_streams=1)
    await store.open_session(session("s2"), max_streams=1, now=1004.0)


async def test_a_session_keeps_its_assets_duration_to_the_end(stores):
    one, two = stores
    await one.open_session(
        dataclasses.replace(session("s1"), duration_s=5400.0), max_streams=2, now=1000.0
    )
    await one.open_session(
        dataclasses.replace(session("s2"), duration_s=60.0), max_streams=2, now=1000.0
    )
    stopped, _ = await two.stop("a", "s1", 5300.0, now=1001.0)
    assert (stopped.position_s, stopped.duration_s) == (5300.0, 5400.0)
    (expired,) = await two.expire(2000.0)
    assert (expired.session_id, expired.duration_s) == ("s2", 60.0)


async def test_a_database_from_before_durations_is_upgraded_in_place(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    await make_version_one(url, ASSET.asset_id)
    db = Database("playback", url)
    try:
        assert await db.start(MIGRATIONS)
        store = SqlPlaybackStore(db)
        (lapsed,) = await store.expire(2000.0)
        assert lapsed.session_id == "s1" and lapsed.duration_s == 0.0  # unknown, not wrong
        fresh = dataclasses.replace(session("s2", now=2000.0), duration_s=60.0)
        await store.open_session(fresh, max_streams=1, now=2000.0)
        stopped, _ = await store.stop("a", "s2", 59.0, now=2001.0)
        assert stopped.duration_s == 60.0
    finally:
        await db.close()
