"""Playback's tables on real PostgreSQL: a database from before durations is upgraded."""

from __future__ import annotations

import pytest

from matinee.platform.storage import Database
from matinee.services.playback.domain.model import Session
from matinee.services.playback.storage import MIGRATIONS, SqlPlaybackStore
from tests.playback_upgrade import make_version_one

pytestmark = pytest.mark.postgres


def session(sid: str, now: float, duration_s: float = 0.0) -> Session:
    return Session(sid, "a", "p", 1, "0123456789abcdef", now, now + 60, duration_s=duration_s)


async def test_sessions_opened_before_the_upgrade_stop_with_an_unknown_duration(postgres_url):
    await make_version_one(postgres_url, "0123456789abcdef")
    db, again = Database("playback", postgres_url), Database("playback", postgres_url)
    try:
        assert await db.start(MIGRATIONS)
        assert await again.start(MIGRATIONS)  # a second instance: nothing left to apply
        store = SqlPlaybackStore(db)
        (lapsed,) = await store.expire(2000.0)
        assert lapsed.session_id == "s1" and lapsed.duration_s == 0.0
        await store.open_session(session("s2", 2000.0, 5400.0), max_streams=1, now=2000.0)
        stopped, _ = await SqlPlaybackStore(again).stop("a", "s2", 5300.0, now=2001.0)
        assert (stopped.position_s, stopped.duration_s) == (5300.0, 5400.0)
    finally:
        await db.close()
        await again.close()


async def test_a_new_database_has_durations_from_the_start(postgres_url):
    db = Database("playback", postgres_url)
    try:
        assert await db.start(MIGRATIONS)
        store = SqlPlaybackStore(db)
        await store.open_session(session("s1", 1000.0, 60.0), max_streams=1, now=1000.0)
        (expired,) = await store.expire(2000.0)
        assert expired.duration_s == 60.0
    finally:
        await db.close()
