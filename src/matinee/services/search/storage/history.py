"""The viewing history search keeps, in its own database (SQLite file, or PostgreSQL).

Every search instance shares these tables: the playback feed writes them (instances
split the events between them), requests read one profile's rows. A fact is applied
in one transaction with its event id, so a replayed or redelivered event changes
nothing; two facts for one profile are serialised (SQLite's write lock, a PostgreSQL
advisory lock on the profile) so that :func:`advance` always sees the current row.

| usage | effect |
|---|---|
| ``SqlWatchHistory(Database.for_service("search", ...))``, ``db.start(MIGRATIONS)`` | ready |
| ``await history.record(Viewing(...))`` | True, or False for an event id seen before |
| ``await history.recent("acc-1", "p1", 200)`` | that profile's rows, latest first |
| ``await history.forget_events(before=unix_time)`` | drop event ids too old to come back |
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from matinee.platform.storage import Database, DatabaseUnavailable, Migration
from matinee.services.search.domain.history import Viewing, advance
from matinee.services.search.domain.taste import Watched

__all__ = ["MIGRATIONS", "SqlWatchHistory"]

metadata = sa.MetaData()

watch_history = sa.Table(
    "watch_history",
    metadata,
    sa.Column("account_id", sa.String(100), primary_key=True),
    sa.Column("profile_id", sa.String(100), primary_key=True),
    sa.Column("title_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("watched_s", sa.Float, nullable=False),
    sa.Column("position_s", sa.Float, nullable=False),
    sa.Column("last_at", sa.Float, nullable=False),
    sa.Column("finished", sa.Boolean, nullable=False),
    # A profile's latest titles: one index range scan per taste read.
    sa.Index("ix_watch_history_recent", "account_id", "profile_id", "last_at"),
)

# Event ids already applied; kept longer than the playback stream keeps events.
history_events = sa.Table(
    "history_events",
    metadata,
    sa.Column("event_id", sa.String(100), primary_key=True),
    sa.Column("seen_at", sa.Float, nullable=False),
    sa.Index("ix_history_events_seen_at", "seen_at"),
)


async def _create(conn: AsyncConnection) -> None:
    await conn.run_sync(lambda sync: metadata.create_all(sync))


MIGRATIONS = [Migration(1, "viewing history per profile and title, applied event ids", _create)]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _profile_lock_key(account_id: str, profile_id: str) -> int:
    key = f"search-history:{account_id}:{profile_id}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big", signed=True)


def _watched(row: Any) -> Watched:
    return Watched(
        title_id=int(row.title_id),
        watched_s=float(row.watched_s),
        position_s=float(row.position_s),
        last_at=float(row.last_at),
        finished=bool(row.finished),
    )


class SqlWatchHistory:
    """The :class:`~matinee.services.search.domain.ports.WatchHistory` on search's database."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def record(self, fact: Viewing) -> bool:
        """Apply one playback fact; return False if its event id was applied before."""
        h = watch_history.c
        async with self.db.write() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:k)"),
                    {"k": _profile_lock_key(fact.account_id, fact.profile_id)},
                )
            seen = _insert(conn, history_events).values(event_id=fact.event_id, seen_at=time.time())
            fresh = await conn.execute(seen.on_conflict_do_nothing(index_elements=["event_id"]))
            if fresh.rowcount == 0:
                return False
            where = (
                (h.account_id == fact.account_id)
                & (h.profile_id == fact.profile_id)
                & (h.title_id == fact.title_id)
            )
            old = (await conn.execute(sa.select(watch_history).where(where))).first()
            row = advance(None if old is None else _watched(old), fact)
            values = {
                "watched_s": row.watched_s,
                "position_s": row.position_s,
                "last_at": row.last_at,
                "finished": row.finished,
            }
            upsert = _insert(conn, watch_history).values(
                account_id=fact.account_id,
                profile_id=fact.profile_id,
                title_id=fact.title_id,
                **values,
            )
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["account_id", "profile_id", "title_id"], set_=values
                )
            )
        return True

    async def recent(self, account_id: str, profile_id: str, limit: int) -> list[Watched]:
        """Return the profile's rows, most recently watched first."""
        if not self.db.ready:
            raise DatabaseUnavailable(f"database for {self.db.service} is not started")
        h = watch_history.c
        query = (
            sa.select(h.title_id, h.watched_s, h.position_s, h.last_at, h.finished)
            .where((h.account_id == account_id) & (h.profile_id == profile_id))
            .order_by(h.last_at.desc())
            .limit(limit)
        )
        async with self.db.engine.connect() as conn:
            return [_watched(row) for row in await conn.execute(query)]

    async def forget_events(self, *, before: float) -> int:
        """Drop applied event ids first seen before ``before``; return how many."""
        async with self.db.write() as conn:
            result = await conn.execute(
                sa.delete(history_events).where(history_events.c.seen_at < before)
            )
        return int(result.rowcount or 0)
