"""Storage on real engines: a SQLite file, and PostgreSQL when MATINEE_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from matinee.platform.service import ServiceSpec, create_service_app
from matinee.platform.settings import ServiceSettings
from matinee.platform.storage import Database, DatabaseUnavailable, Migration, default_sqlite_path
from tests.conftest import signed_headers


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """Return None (the SQLite default under tmp_path) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


def counted_migrations(calls: Counter[int], upto: int = 3) -> list[Migration]:
    """Return migrations 1..upto that count how often each upgrade really runs."""

    def step(version: int, *statements: str) -> Migration:
        plain = Migration.sql(version, f"step {version}", *statements)

        async def upgrade(conn: AsyncConnection) -> None:
            calls[version] += 1
            await plain.upgrade(conn)

        return Migration(version, plain.description, upgrade)

    all_steps = [
        step(1, "CREATE TABLE titles (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL)"),
        step(2, "CREATE INDEX titles_name ON titles (name)"),
        step(3, "ALTER TABLE titles ADD COLUMN year INTEGER"),
    ]
    return all_steps[:upto]


def open_db(database_url: str | None, data_dir: Path, **options: object) -> Database:
    return Database.for_service("catalog", database_url=database_url, data_dir=data_dir, **options)


async def test_migrations_apply_once_and_survive_restarts(
    database_url: str | None, tmp_path: Path
) -> None:
    calls: Counter[int] = Counter()
    db = open_db(database_url, tmp_path)
    assert await db.start(counted_migrations(calls, upto=2))
    async with db.session() as session:
        await session.execute(text("INSERT INTO titles (id, name) VALUES (1, 'Metropolis')"))
        await session.commit()
    await db.close()

    # A restart with the same code applies nothing; a new release applies only its step.
    for migrations in (counted_migrations(calls, upto=2), counted_migrations(calls, upto=3)):
        db = open_db(database_url, tmp_path)
        assert await db.start(migrations)
        await db.check()
        await db.close()

    db = open_db(database_url, tmp_path)
    assert await db.start(counted_migrations(calls))
    assert await db.applied_versions() == [1, 2, 3]
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, name, year FROM titles"))).all()
    assert [tuple(row) for row in rows] == [(1, "Metropolis", None)]
    assert calls == {1: 1, 2: 1, 3: 1}
    await db.close()


async def test_concurrent_starts_apply_each_migration_once(
    database_url: str | None, tmp_path: Path
) -> None:
    calls: Counter[int] = Counter()
    instances = [open_db(database_url, tmp_path) for _ in range(4)]
    try:
        started = await asyncio.gather(*(db.start(counted_migrations(calls)) for db in instances))
        assert started == [True] * 4
        assert calls == {1: 1, 2: 1, 3: 1}
        for db in instances:
            await db.check()
        assert await instances[0].applied_versions() == [1, 2, 3]
    finally:
        for db in instances:
            await db.close()


async def test_failed_migration_leaves_no_half_schema(
    database_url: str | None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def half_then_fail(conn: AsyncConnection) -> None:
        await conn.execute(text("CREATE TABLE genres (id INTEGER PRIMARY KEY)"))
        raise RuntimeError("migration 2 is broken")

    migrations = [
        Migration.sql(1, "titles", "CREATE TABLE titles (id INTEGER PRIMARY KEY)"),
        Migration(2, "genres", half_then_fail),
    ]
    db = open_db(database_url, tmp_path, retry_interval=3600)
    with caplog.at_level(logging.ERROR, logger="matinee.storage"):
        assert not await db.start(migrations)
    assert "migration 2 is broken" in caplog.text
    with pytest.raises(DatabaseUnavailable, match="migration 2 is broken"):
        await db.check()
    with pytest.raises(DatabaseUnavailable):
        async with db.session():
            pass
    assert await db.applied_versions() == [1]
    async with db.engine.connect() as conn:
        # The failed step's CREATE TABLE was rolled back with it.
        await conn.execute(text("CREATE TABLE genres (id INTEGER PRIMARY KEY)"))
    await db.close()


async def test_sqlite_file_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = open_db(None, tmp_path)
    migrations = [
        Migration.sql(
            1,
            "titles and episodes",
            "CREATE TABLE titles (id INTEGER PRIMARY KEY)",
            "CREATE TABLE episodes (id INTEGER PRIMARY KEY,"
            " title_id INTEGER NOT NULL REFERENCES titles (id))",
        )
    ]
    assert await db.start(migrations)
    assert default_sqlite_path("catalog", tmp_path).is_file()
    async with db.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
    with pytest.raises(IntegrityError):
        async with db.engine.begin() as conn:
            await conn.execute(text("INSERT INTO episodes (id, title_id) VALUES (1, 99)"))
    await db.close()


async def test_corrupt_sqlite_file_fails_readiness_but_not_the_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = default_sqlite_path("catalog", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 1000)
    db = open_db(None, tmp_path, retry_interval=3600)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.start([Migration.sql(1, "t", "CREATE TABLE t (id INTEGER)")])
        yield
        await db.close()

    async def count_titles(request: Request) -> Response:
        async with db.engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
        return JSONResponse(count)

    app = create_service_app(
        ServiceSpec("catalog"),
        ServiceSettings(data_dir=tmp_path),
        routes=[Route("/titles/count", count_titles)],
        lifespan=lifespan,
        readiness={"database": db.check},
    )
    with caplog.at_level(logging.ERROR, logger="matinee.storage"):
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app),
                    base_url="http://catalog",
                    headers=signed_headers(),
                )
            )
            assert (await client.get("/healthz")).status_code == 200
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert "file is not a database" in ready.json()["checks"]["database"]
            assert (await client.get("/readyz")).status_code == 503
            # A route that reaches for the database gets a 503 problem, not a 500.
            titles = await client.get("/titles/count")
            assert titles.status_code == 503
            assert titles.json()["detail"] == "database for catalog is unavailable"
            assert str(tmp_path) not in titles.text

    errors = [r for r in caplog.records if r.name == "matinee.storage"]
    assert len(errors) == 1
    assert str(path) in errors[0].getMessage()
    assert "file is not a database" in errors[0].getMessage()


async def test_readiness_recovers_once_the_database_is_fixed(tmp_path: Path) -> None:
    path = default_sqlite_path("catalog", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 2000)
    db = open_db(None, tmp_path, retry_interval=0)
    assert not await db.start([Migration.sql(1, "t", "CREATE TABLE t (id INTEGER)")])
    with pytest.raises(DatabaseUnavailable, match="file is not a database"):
        await db.check()
    await db.engine.dispose()
    path.unlink()  # an operator restores (here: removes) the broken file
    await db.check()
    assert await db.applied_versions() == [1]
    await db.close()


async def test_sqlite_write_transactions_from_several_instances_serialise(tmp_path: Path) -> None:
    migrations = [Migration.sql(1, "log", "CREATE TABLE log (seen INTEGER NOT NULL)")]
    instances = [open_db(None, tmp_path) for _ in range(4)]
    for db in instances:
        assert await db.start(migrations)

    async def append_count(db: Database) -> None:
        # Read, then write what was read: only correct if no other writer slips in between.
        for _ in range(10):
            async with db.write() as conn:
                seen = (await conn.execute(text("SELECT count(*) FROM log"))).scalar_one()
                await conn.execute(text("INSERT INTO log (seen) VALUES (:n)"), {"n": seen})

    try:
        await asyncio.gather(*(append_count(db) for db in instances))
        async with instances[0].engine.connect() as conn:
            seen = (await conn.execute(text("SELECT seen FROM log ORDER BY seen"))).scalars()
            assert list(seen) == list(range(40))
    finally:
        for db in instances:
            await db.close()
