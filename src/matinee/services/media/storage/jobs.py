"""The durable work queue: one ``media_jobs`` row per asset, in SQL (SQLite or PostgreSQL).

Transitions come from the pure state machine (``domain.jobs``); this adapter makes
each one atomic. A claim is a compare-and-set (``UPDATE ... WHERE status = 'queued'``),
so two instances polling the same table never run one job twice.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from matinee.platform.storage import Database, Migration
from matinee.services.media.domain import Job, JobStatus, claim, is_stale, requeue

__all__ = ["MIGRATIONS", "SqlJobs", "jobs_table"]

metadata = sa.MetaData()

jobs_table = sa.Table(
    "media_jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    # One job per asset: a second ingest of the same file finds this row (idempotency).
    sa.Column("asset_id", sa.String(16), nullable=False, unique=True),
    sa.Column("title_id", sa.BigInteger, nullable=False),
    sa.Column("source_path", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("progress", sa.Float, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("worker", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False, server_default="0"),
    sa.Column("run_after", sa.Float, nullable=False, server_default="0"),
    sa.Index("ix_media_jobs_queue", "status", "run_after", "created_at"),
)


async def _create(conn: AsyncConnection) -> None:
    await conn.run_sync(lambda sync: jobs_table.create(sync, checkfirst=True))


MIGRATIONS = [Migration(1, "create media_jobs", _create)]

_COLUMNS = [c.name for c in jobs_table.columns]


def _to_job(row: sa.Row) -> Job:
    data = dict(row._mapping)
    data["status"] = JobStatus(data["status"])
    return Job(**data)


def _values(job: Job) -> dict[str, object]:
    return {name: getattr(job, name) for name in _COLUMNS if name != "id"} | {
        "status": str(job.status)
    }


class SqlJobs:
    """The jobs table of one media database."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self._clock = clock

    async def get(self, job_id: str) -> Job | None:
        """Return a job by id."""
        async with self._db.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(jobs_table).where(jobs_table.c.id == job_id))
            ).first()
        return _to_job(row) if row else None

    async def by_asset(self, asset_id: str) -> Job | None:
        """Return the job of an asset."""
        async with self._db.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(jobs_table).where(jobs_table.c.asset_id == asset_id))
            ).first()
        return _to_job(row) if row else None

    async def enqueue(self, asset_id: str, title_id: int, source_path: str) -> tuple[Job, bool]:
        """Queue a job for an asset unless it has one; return it and whether it is new.

        A failed job is queued again (a new ingest is a new chance); others are left alone.
        """
        now = self._clock()
        async with self._db.write() as conn:
            row = (
                await conn.execute(sa.select(jobs_table).where(jobs_table.c.asset_id == asset_id))
            ).first()
            if row is not None:
                job = _to_job(row)
                if job.status is not JobStatus.FAILED:
                    return job, False
                job = dataclasses.replace(
                    requeue(job, now), source_path=source_path, title_id=title_id, error=""
                )
                await self._save(conn, job)
                return job, True
            job = Job(
                id=str(uuid.uuid4()),
                asset_id=asset_id,
                title_id=title_id,
                source_path=source_path,
                created_at=now,
                updated_at=now,
                run_after=now,
            )
            try:
                async with conn.begin_nested():
                    await conn.execute(sa.insert(jobs_table).values(id=job.id, **_values(job)))
            except sa.exc.IntegrityError:
                # Another instance queued the same asset a moment ago: that one is the job.
                row = (
                    await conn.execute(
                        sa.select(jobs_table).where(jobs_table.c.asset_id == asset_id)
                    )
                ).first()
                assert row is not None
                return _to_job(row), False
            return job, True

    async def claim_next(self, worker: str) -> Job | None:
        """Take the oldest runnable queued job for ``worker``; None when there is none."""
        now = self._clock()
        for _ in range(5):
            async with self._db.write() as conn:
                row = (
                    await conn.execute(
                        sa.select(jobs_table)
                        .where(jobs_table.c.status == str(JobStatus.QUEUED))
                        .where(jobs_table.c.run_after <= now)
                        .order_by(jobs_table.c.created_at)
                        .limit(1)
                    )
                ).first()
                if row is None:
                    return None
                job = claim(_to_job(row), worker, now)
                # Compare-and-set: only one claimer sees rowcount 1.
                result = await conn.execute(
                    sa.update(jobs_table)
                    .where(jobs_table.c.id == job.id)
                    .where(jobs_table.c.status == str(JobStatus.QUEUED))
                    .values(**_values(job))
                )
                if result.rowcount == 1:
                    return job
        return None

    async def save(self, job: Job, *, owner: str | None = None) -> bool:
        """Store a job's new state; with ``owner``, only while that worker still owns it."""
        async with self._db.write() as conn:
            return await self._save(conn, job, owner=owner)

    async def _save(self, conn: AsyncConnection, job: Job, *, owner: str | None = None) -> bool:
        query = sa.update(jobs_table).where(jobs_table.c.id == job.id)
        if owner is not None:
            # A worker declared dead (stale heartbeat) must not overwrite its successor.
            query = query.where(jobs_table.c.worker == owner).where(
                jobs_table.c.status == str(JobStatus.RUNNING)
            )
        result = await conn.execute(query.values(**_values(job)))
        return bool(result.rowcount)

    async def requeue_stale(self, stale_after: float, max_attempts: int) -> list[Job]:
        """Queue again every running job whose worker stopped beating; return them.

        A job that has used all its attempts fails instead: a source that kills its
        worker every time (out of memory) must not loop forever.
        """
        now = self._clock()
        requeued: list[Job] = []
        async with self._db.write() as conn:
            rows = (
                await conn.execute(
                    sa.select(jobs_table)
                    .where(jobs_table.c.status == str(JobStatus.RUNNING))
                    .where(jobs_table.c.heartbeat_at < now - stale_after)
                )
            ).all()
            for row in rows:
                job = _to_job(row)
                if not is_stale(job, now, stale_after):
                    continue
                reason = f"worker {job.worker or '?'} stopped during attempt {job.attempts}"
                if job.attempts >= max_attempts:
                    again = dataclasses.replace(
                        job, status=JobStatus.FAILED, error=reason, worker="", updated_at=now
                    )
                else:
                    again = requeue(job, now, reason=reason)
                result = await conn.execute(
                    sa.update(jobs_table)
                    .where(jobs_table.c.id == job.id)
                    .where(jobs_table.c.heartbeat_at == job.heartbeat_at)
                    .values(**_values(again))
                )
                if result.rowcount == 1:
                    requeued.append(again)
        return requeued
