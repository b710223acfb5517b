"""Playback's tables in SQL (SQLite by default, PostgreSQL when configured), through Core.

Two playback instances share these tables, so taking a stream lease is one
transaction that counts the account's live leases and inserts the new one: SQLite
serialises writers (``BEGIN IMMEDIATE``), PostgreSQL takes a transaction-scoped
advisory lock on the account first. Leases are rows of ``sessions``: a lease is
live while its session is ``active`` and ``lease_expires_at`` is in the future.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from matinee.platform.storage import Database, Migration
from matinee.services.playback.domain.model import (
    Asset,
    Heartbeat,
    Rung,
    Session,
    SessionEnded,
    SessionNotFound,
    StreamLimitReached,
)
from matinee.services.playback.domain.rules import blend_prior

__all__ = ["MIGRATIONS", "SqlPlaybackStore"]

metadata = sa.MetaData()

assets = sa.Table(
    "assets",
    metadata,
    sa.Column("asset_id", sa.String(64), primary_key=True),
    sa.Column("title_id", sa.BigInteger, nullable=False),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("hls", sa.String(128), nullable=False),
    sa.Column("dash", sa.String(128), nullable=False),
    sa.Column("rungs_json", sa.Text, nullable=False),
)

title_assets = sa.Table(
    "title_assets",
    metadata,
    sa.Column("title_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("asset_id", sa.String(64), nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("profile_id", sa.String(64), nullable=False),
    sa.Column("title_id", sa.BigInteger, nullable=False),
    sa.Column("asset_id", sa.String(64), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("lease_expires_at", sa.Float, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("position_s", sa.Float, nullable=False, server_default="0"),
    sa.Column("bitrate_kbps", sa.Float, nullable=False, server_default="0"),
    sa.Column("rebuffers", sa.Integer, nullable=False, server_default="0"),
    # Added by migration 2: 0 for sessions opened before it (duration unknown).
    sa.Column("duration_s", sa.Float, nullable=False, server_default="0"),
    # The lease count of one account, and the sweep of lapsed leases: both index scans.
    sa.Index("ix_sessions_account_live", "account_id", "state", "lease_expires_at"),
    sa.Index("ix_sessions_live", "state", "lease_expires_at"),
)

positions = sa.Table(
    "positions",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("profile_id", sa.String(64), primary_key=True),
    sa.Column("title_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position_s", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

priors = sa.Table(
    "qoe_priors",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("throughput_kbps", sa.Float, nullable=False),
    sa.Column("samples", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)


async def _create(conn: AsyncConnection) -> None:
    await conn.run_sync(lambda sync: metadata.create_all(sync))


async def _session_durations(conn: AsyncConnection) -> None:
    # Migration 1 creates the tables from today's ``metadata``, so a database made after
    # this column was added already has it; only older databases need the ALTER.
    def columns(sync: sa.Connection) -> set[str]:
        return {c["name"] for c in sa.inspect(sync).get_columns("sessions")}

    if "duration_s" not in await conn.run_sync(columns):
        await conn.execute(
            sa.text("ALTER TABLE sessions ADD COLUMN duration_s FLOAT NOT NULL DEFAULT 0")
        )


MIGRATIONS = [
    Migration(1, "assets, titles, sessions with leases, positions, QoE priors", _create),
    Migration(2, "sessions remember their asset's duration", _session_durations),
]


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _account_lock_key(account_id: str) -> int:
    digest = hashlib.blake2b(f"playback-lease:{account_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _rungs_json(asset: Asset) -> str:
    return orjson.dumps([
        {"name": r.name, "width": r.width, "height": r.height, "bitrate_kbps": r.bitrate_kbps,
         "average_bitrate_kbps": r.average_bitrate_kbps, "codecs": r.codecs,
         "frame_rate": r.frame_rate}
        for r in asset.rungs
    ]).decode()  # fmt: skip


def _asset_of(row: Any) -> Asset:
    rungs = tuple(Rung(**r) for r in orjson.loads(row.rungs_json))
    return Asset(
        asset_id=row.asset_id,
        title_id=row.title_id,
        duration_s=row.duration_s,
        rungs=rungs,
        hls=row.hls,
        dash=row.dash,
    )


def _session_of(row: Any) -> Session:
    return Session(
        session_id=row.session_id,
        account_id=row.account_id,
        profile_id=row.profile_id,
        title_id=row.title_id,
        asset_id=row.asset_id,
        started_at=row.started_at,
        lease_expires_at=row.lease_expires_at,
        state=row.state,
        position_s=row.position_s,
        bitrate_kbps=row.bitrate_kbps,
        rebuffers=row.rebuffers,
        duration_s=row.duration_s,
    )


class _SqliteWriteGate:
    """Queue one SQLite file's writers on a kernel lock instead of SQLite's busy sleeps.

    SQLite makes a writer that finds the file locked sleep and poll (1, 2, 5, 10 ... ms),
    which put 100 ms in the start path's tail once two instances wrote at once. An
    ``flock`` waiter is woken the moment the holder lets go; an asyncio lock in front
    keeps each process to one waiting thread.
    """

    def __init__(self, path: str) -> None:
        self._fd = os.open(path + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
        self._local = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Hold the file's write lock for the block."""
        async with self._local:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                waiter = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, self._fd,
                                                                 fcntl.LOCK_EX))  # fmt: skip
                try:
                    await asyncio.shield(waiter)
                except asyncio.CancelledError:
                    # The thread still gets the lock later: let it go at once then.
                    waiter.add_done_callback(lambda _: fcntl.flock(self._fd, fcntl.LOCK_UN))
                    raise
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


class SqlPlaybackStore:
    """The PlaybackStore on playback's own database."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._gate: _SqliteWriteGate | None = None
        name = database.url.database
        if database.is_sqlite and name and name != ":memory:":
            self._gate = _SqliteWriteGate(str(name))

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        if self._gate is None:
            async with self.db.write() as conn:
                yield conn
            return
        async with self._gate.held(), self.db.write() as conn:
            yield conn

    async def put_asset(self, asset: Asset) -> None:
        async with self._write() as conn:
            stmt = _insert(conn, assets).values(
                asset_id=asset.asset_id, title_id=asset.title_id, duration_s=asset.duration_s,
                hls=asset.hls, dash=asset.dash, rungs_json=_rungs_json(asset),
            )  # fmt: skip
            update = {c.name: stmt.excluded[c.name] for c in assets.c if c.name != "asset_id"}
            await conn.execute(stmt.on_conflict_do_update(index_elements=["asset_id"], set_=update))
            await self._map(conn, asset.title_id, asset.asset_id)

    async def map_title(self, title_id: int, asset_id: str) -> None:
        async with self._write() as conn:
            await self._map(conn, title_id, asset_id)

    async def _map(self, conn: AsyncConnection, title_id: int, asset_id: str) -> None:
        stmt = _insert(conn, title_assets).values(title_id=title_id, asset_id=asset_id)
        await conn.execute(
            stmt.on_conflict_do_update(index_elements=["title_id"], set_={"asset_id": asset_id})
        )

    async def title_asset(self, title_id: int) -> tuple[str | None, Asset | None]:
        query = (
            sa.select(title_assets.c.asset_id.label("mapped"), assets)
            .select_from(
                title_assets.outerjoin(assets, assets.c.asset_id == title_assets.c.asset_id)
            )
            .where(title_assets.c.title_id == title_id)
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None, None
        if row.asset_id is None:
            return row.mapped, None
        asset = _asset_of(row)
        # The title may be mapped to an asset ingested for another title: play it as this one.
        return row.mapped, Asset(asset.asset_id, title_id, asset.duration_s, asset.rungs,
                                 asset.hls, asset.dash)  # fmt: skip

    async def viewer_state(
        self, account_id: str, profile_id: str, title_id: int
    ) -> tuple[float | None, float | None]:
        position = (
            sa.select(positions.c.position_s)
            .where(
                positions.c.account_id == account_id,
                positions.c.profile_id == profile_id,
                positions.c.title_id == title_id,
            )
            .scalar_subquery()
        )
        prior = (
            sa.select(priors.c.throughput_kbps)
            .where(priors.c.account_id == account_id)
            .scalar_subquery()
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(sa.select(position, prior))).one()
        return row[0], row[1]

    async def _lock_account(self, conn: AsyncConnection, account_id: str) -> None:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _account_lock_key(account_id)}
            )

    async def _live(self, conn: AsyncConnection, account_id: str, now: float, but: str = "") -> int:
        query = sa.select(sa.func.count()).where(
            sessions.c.account_id == account_id,
            sessions.c.state == "active",
            sessions.c.lease_expires_at >= now,
            sessions.c.session_id != but,
        )
        return int((await conn.execute(query)).scalar_one())

    async def open_session(self, session: Session, *, max_streams: int, now: float) -> None:
        async with self._write() as conn:
            await self._lock_account(conn, session.account_id)
            active = await self._live(conn, session.account_id, now)
            if active >= max_streams:
                raise StreamLimitReached("", max_streams, active)
            await conn.execute(
                sa.insert(sessions).values(
                    session_id=session.session_id, account_id=session.account_id,
                    profile_id=session.profile_id, title_id=session.title_id,
                    asset_id=session.asset_id, started_at=session.started_at,
                    lease_expires_at=session.lease_expires_at, state=session.state,
                    position_s=session.position_s, bitrate_kbps=session.bitrate_kbps,
                    rebuffers=session.rebuffers, duration_s=session.duration_s,
                )
            )  # fmt: skip

    async def _own(self, conn: AsyncConnection, account_id: str, session_id: str) -> Session:
        row = (
            await conn.execute(sa.select(sessions).where(sessions.c.session_id == session_id))
        ).first()
        if row is None or row.account_id != account_id:
            raise SessionNotFound(session_id)
        return _session_of(row)

    async def _remember(
        self, conn: AsyncConnection, session: Session, position_s: float, now: float
    ) -> None:
        stmt = _insert(conn, positions).values(
            account_id=session.account_id, profile_id=session.profile_id,
            title_id=session.title_id, position_s=position_s, updated_at=now,
        )  # fmt: skip
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["account_id", "profile_id", "title_id"],
                set_={"position_s": position_s, "updated_at": now},
            )
        )

    async def renew(
        self,
        account_id: str,
        session_id: str,
        beat: Heartbeat,
        *,
        now: float,
        ttl_s: float,
        max_streams: int,
    ) -> tuple[Session, Session]:
        async with self._write() as conn:
            await self._lock_account(conn, account_id)
            before = await self._own(conn, account_id, session_id)
            if before.state == "stopped":
                raise SessionEnded(session_id)
            if before.state != "active" or before.lease_expires_at < now:
                active = await self._live(conn, account_id, now, but=session_id)
                if active >= max_streams:
                    raise StreamLimitReached("", max_streams, active)
            values = {
                "state": "active",
                "lease_expires_at": now + ttl_s,
                "position_s": beat.position_s,
                "bitrate_kbps": beat.bitrate_kbps or before.bitrate_kbps,
                "rebuffers": max(beat.rebuffers, before.rebuffers),
            }
            await conn.execute(
                sa.update(sessions).where(sessions.c.session_id == session_id).values(**values)
            )
            await self._remember(conn, before, beat.position_s, now)
            if beat.throughput_kbps:
                await self._learn(conn, account_id, beat.throughput_kbps, now)
        after = Session(**{**_fields(before), **values})
        return before, after

    async def _learn(self, conn: AsyncConnection, account_id: str, kbps: float, now: float) -> None:
        row = (
            await conn.execute(
                sa.select(priors.c.throughput_kbps, priors.c.samples).where(
                    priors.c.account_id == account_id
                )
            )
        ).first()
        blended = blend_prior(row.throughput_kbps if row else None, kbps)
        samples = (row.samples if row else 0) + 1
        stmt = _insert(conn, priors).values(
            account_id=account_id, throughput_kbps=blended, samples=samples, updated_at=now
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["account_id"],
                set_={"throughput_kbps": blended, "samples": samples, "updated_at": now},
            )
        )

    async def stop(
        self, account_id: str, session_id: str, position_s: float, *, now: float
    ) -> tuple[Session, bool]:
        async with self._write() as conn:
            session = await self._own(conn, account_id, session_id)
            if session.state == "stopped":
                return session, False
            await conn.execute(
                sa.update(sessions)
                .where(sessions.c.session_id == session_id)
                .values(state="stopped", position_s=position_s, lease_expires_at=now)
            )
            await self._remember(conn, session, position_s, now)
        fields = {**_fields(session), "state": "stopped", "position_s": position_s,
                  "lease_expires_at": now}  # fmt: skip
        return Session(**fields), True

    async def expire(self, now: float) -> Sequence[Session]:
        stmt = (
            sa.update(sessions)
            .where(sessions.c.state == "active", sessions.c.lease_expires_at < now)
            .values(state="expired")
            .returning(*sessions.c)
        )
        async with self._write() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_session_of(r) for r in rows]


def _fields(session: Session) -> dict[str, Any]:
    return {f: getattr(session, f) for f in Session.__dataclass_fields__}
