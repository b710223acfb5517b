"""Storage wiring that needs no database server: URLs, paths, migration lists, readiness."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from matinee.platform.storage import (
    Database,
    DatabaseUnavailable,
    Migration,
    async_url,
    default_sqlite_path,
)


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://matinee:pw@db:5432/catalog", "postgresql+asyncpg"),
        ("postgres://matinee@db/catalog", "postgresql+asyncpg"),
        ("postgresql+asyncpg://db/catalog", "postgresql+asyncpg"),
        ("sqlite:////var/lib/matinee/catalog.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
    ],
)
def test_plain_urls_get_an_async_driver(given: str, driver: str) -> None:
    assert async_url(given).drivername == driver


async def test_without_a_url_each_service_gets_its_own_sqlite_file(tmp_path: Path) -> None:
    catalog = Database.for_service("catalog", database_url=None, data_dir=tmp_path)
    users = Database.for_service("users", database_url=None, data_dir=tmp_path)
    assert catalog.is_sqlite
    assert catalog.url.database == str(tmp_path / "services" / "catalog" / "catalog.db")
    assert default_sqlite_path("users", tmp_path) == tmp_path / "services" / "users" / "users.db"
    assert users.url.database != catalog.url.database
    await catalog.close()
    await users.close()


async def test_location_never_shows_the_password(tmp_path: Path) -> None:
    db = Database.for_service(
        "users", database_url="postgresql://matinee:hunter2@db:5432/users", data_dir=tmp_path
    )
    assert not db.is_sqlite
    assert "hunter2" not in db.location
    assert "db:5432/users" in db.location
    await db.close()


@pytest.mark.parametrize("versions", [[1, 1], [2, 1], [0, 1]])
async def test_a_malformed_migration_list_is_refused(tmp_path: Path, versions: list[int]) -> None:
    db = Database.for_service("catalog", database_url=None, data_dir=tmp_path)
    migrations = [Migration.sql(v, f"step {v}", "SELECT 1") for v in versions]
    with pytest.raises(ValueError, match="unique, increasing"):
        await db.start(migrations)
    await db.close()


async def test_a_database_that_was_never_started_is_not_ready(tmp_path: Path) -> None:
    db = Database.for_service("catalog", database_url=None, data_dir=tmp_path)
    with pytest.raises(DatabaseUnavailable, match="not started") as raised:
        await db.check()
    assert raised.value.status == 503
    with pytest.raises(DatabaseUnavailable):
        async with db.session():
            pass
    await db.close()


async def test_started_database_serves_sessions(tmp_path: Path) -> None:
    db = Database.for_service("catalog", database_url=None, data_dir=tmp_path)
    assert await db.start([Migration.sql(1, "t", "CREATE TABLE t (id INTEGER PRIMARY KEY)")])
    assert db.ready
    async with db.session() as session:
        await session.execute(text("INSERT INTO t (id) VALUES (1)"))
        await session.commit()
    async with db.session() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 1
    await db.close()


async def test_an_in_memory_database_keeps_its_tables_across_connections() -> None:
    db = Database("catalog", "sqlite:///:memory:")
    assert await db.start([Migration.sql(1, "t", "CREATE TABLE t (id INTEGER PRIMARY KEY)")])
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO t (id) VALUES (1)"))
    await db.check()
    assert await db.applied_versions() == [1]
    await db.close()
