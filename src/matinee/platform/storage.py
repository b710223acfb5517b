"""Per-service storage: one SQLAlchemy async engine, its migrations, its readiness.

Each service owns its data (DESIGN.md rule 1): by default a SQLite file in WAL mode
at ``<data_dir>/services/<service>/<service>.db``; with ``MATINEE_<SERVICE>_DATABASE_URL``
set, its own PostgreSQL database. Migrations are applied at start, each in its own
transaction under a lock, so several instances starting at once apply each one once.

A database that cannot be opened (a corrupt file, PostgreSQL down) never crashes
the process: :meth:`Database.start` logs one clear line and records the problem,
:meth:`Database.check` (wire it into ``/readyz``) raises it, and later checks retry.

| usage | effect |
|---|---|
| ``Database.for_service("catalog", database_url=url_or_none, data_dir=s.data_dir)`` | a database |
| ``await db.start(MIGRATIONS)`` | apply pending migrations; never raises for a bad database |
| ``create_service_app(..., readiness={"database": db.check})`` | ``/readyz`` 503 naming it |
| ``async with db.session() as s: ...`` | an ``AsyncSession`` (commit it yourself) |
| ``async with db.write() as conn: ...`` | Core in a write transaction, committed on exit |
| ``async with db.engine.connect() as conn: ...`` | Core reads |
| ``Migration(1, "create titles", create_titles)`` | ``create_titles(conn: AsyncConnection)`` |
| ``Migration.sql(2, "index titles", "CREATE INDEX ...")`` | plain SQL statements |
| ``Database("catalog", "sqlite:///:memory:")`` | a throwaway database for tests |
| ``await db.close()`` | dispose the engine |
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from matinee.platform.errors import ServiceUnavailable

__all__ = [
    "MIGRATIONS_TABLE",
    "Database",
    "DatabaseUnavailable",
    "Migration",
    "async_url",
    "default_sqlite_path",
]

log = logging.getLogger("matinee.storage")

MIGRATIONS_TABLE = "matinee_schema_migrations"
# How long SQLite waits for another writer (another instance) before giving up.
_SQLITE_BUSY_TIMEOUT_MS = 10_000
# After a failed start, /readyz retries at most this often, so a restarted PostgreSQL
# is picked up without hammering a broken one.
_RETRY_INTERVAL = 5.0

Upgrade = Callable[[AsyncConnection], Awaitable[None]]


class DatabaseUnavailable(ServiceUnavailable):
    """The service's database cannot be used; requests touching it get a 503 problem."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: applied once, in a transaction, recorded by version."""

    version: int
    description: str
    upgrade: Upgrade

    @classmethod
    def sql(cls, version: int, description: str, *statements: str) -> Migration:
        """Build a migration that runs plain SQL statements in order."""

        async def upgrade(conn: AsyncConnection) -> None:
            for statement in statements:
                await conn.execute(text(statement))

        return cls(version, description, upgrade)


def default_sqlite_path(service: str, data_dir: Path) -> Path:
    """Return where a service's SQLite file lives under the data dir."""
    return Path(data_dir) / "services" / service / f"{service}.db"


def async_url(url: str) -> URL:
    """Map a plain database URL to its async driver (asyncpg, aiosqlite)."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in ("postgresql", "postgres", "postgresql+psycopg2"):
        return parsed.set(drivername="postgresql+asyncpg")
    if driver in ("sqlite", "sqlite+pysqlite"):
        return parsed.set(drivername="sqlite+aiosqlite")
    return parsed


def _lock_key(service: str) -> int:
    # A stable signed 64-bit key: pg_advisory locks take a bigint.
    digest = hashlib.blake2b(f"matinee-migrations:{service}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _describe(exc: BaseException) -> str:
    # DBAPI errors wrapped by SQLAlchemy carry the SQL and a docs link; keep the cause.
    while isinstance(exc, DatabaseUnavailable) and exc.__cause__ is not None:
        exc = exc.__cause__
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).strip().splitlines()
    return message[0] if message else type(exc).__name__


class Database:
    """One service's database: engine, migrations and readiness."""

    def __init__(
        self,
        service: str,
        url: str | URL,
        *,
        retry_interval: float = _RETRY_INTERVAL,
        **engine_options: Any,
    ) -> None:
        self.service = service
        self.retry_interval = retry_interval
        self.url = async_url(str(url)) if isinstance(url, str) else url
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        in_memory = self.is_sqlite and self.url.database in (None, "", ":memory:")
        if self.is_sqlite and not in_memory:
            Path(str(self.url.database)).parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite}
        if in_memory:
            # Every new connection would open a new, empty memory database: share one.
            options["poolclass"] = StaticPool
        options.update(engine_options)
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        _report_unreachable_as_unavailable(self.engine, service)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._migrations: tuple[Migration, ...] = ()
        self._started = False
        self._error: str | None = None
        self._last_attempt = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def for_service(
        cls, service: str, *, database_url: str | None, data_dir: Path, **options: Any
    ) -> Database:
        """Open the service's PostgreSQL database if a URL is given, else its SQLite file."""
        if database_url:
            return cls(service, database_url, **options)
        path = default_sqlite_path(service, data_dir).resolve()
        return cls(service, URL.create("sqlite+aiosqlite", database=str(path)), **options)

    @property
    def location(self) -> str:
        """Return where the data lives, without any password."""
        if self.is_sqlite:
            return f"sqlite file {self.url.database}"
        return self.url.render_as_string(hide_password=True)

    @property
    def ready(self) -> bool:
        """Return whether the database opened and every migration is applied."""
        return self._started

    async def start(self, migrations: Sequence[Migration] = ()) -> bool:
        """Connect and apply pending migrations; log and record a failure instead of raising."""
        self._migrations = _validated(migrations)
        async with self._lock:
            return await self._attempt_start()

    async def _attempt_start(self) -> bool:
        self._last_attempt = time.monotonic()
        try:
            applied = await self._migrate()
        except Exception as exc:
            error = f"database for {self.service} is unusable ({self.location}): {_describe(exc)}"
            if error != self._error:
                # One line per distinct problem: the retry from /readyz must not flood logs.
                log.error(
                    "%s; the service keeps running but is not ready", error,
                    extra={"database": self.location},
                )  # fmt: skip
            self._error = error
            self._started = False
            return False
        if self._error is not None:
            log.info("database for %s recovered", self.service)
        self._error = None
        self._started = True
        if applied:
            log.info(
                "applied %d migration(s)", len(applied),
                extra={"versions": applied, "database": self.location},
            )  # fmt: skip
        return True

    async def _migrate(self) -> list[int]:
        applied: list[int] = []
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                # BEGIN IMMEDIATE takes SQLite's write lock up front, so two instances
                # starting together serialise here instead of both applying a migration.
                conn = await conn.execution_options(matinee_sqlite_begin="IMMEDIATE")
            async with conn.begin():
                await self._lock_migrations(conn)
                await conn.execute(
                    text(
                        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
                        " version INTEGER PRIMARY KEY,"
                        " description VARCHAR(200) NOT NULL,"
                        " applied_at VARCHAR(40) NOT NULL)"
                    )
                )
            for migration in self._migrations:
                async with conn.begin():
                    await self._lock_migrations(conn)
                    found = await conn.execute(
                        text(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE version = :v"),
                        {"v": migration.version},
                    )
                    if found.first() is not None:
                        continue
                    await migration.upgrade(conn)
                    await conn.execute(
                        text(
                            f"INSERT INTO {MIGRATIONS_TABLE} (version, description, applied_at)"
                            " VALUES (:v, :d, :t)"
                        ),
                        {
                            "v": migration.version,
                            "d": migration.description[:200],
                            "t": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        },
                    )
                    applied.append(migration.version)
        return applied

    async def _lock_migrations(self, conn: AsyncConnection) -> None:
        if self.url.get_backend_name() == "postgresql":
            # Released at commit; instances of one service queue here.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(self.service)}
            )

    async def check(self) -> None:
        """Raise :class:`DatabaseUnavailable` unless the database answers; use for /readyz."""
        if not self._started:
            if self._error is None:
                raise DatabaseUnavailable(f"database for {self.service} is not started")
            due = time.monotonic() - self._last_attempt >= self.retry_interval
            if due and not self._lock.locked():
                async with self._lock:
                    await self._attempt_start()
            if not self._started:
                raise DatabaseUnavailable(self._error or "database not started")
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise DatabaseUnavailable(
                f"database for {self.service} does not answer ({self.location}): {_describe(exc)}"
            ) from exc

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Yield an ``AsyncSession``; raise :class:`DatabaseUnavailable` if start failed."""
        if not self._started:
            raise DatabaseUnavailable(self._error or f"database for {self.service} not started")
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """Yield a connection in a write transaction, committed on exit, rolled back on error."""
        if not self._started:
            raise DatabaseUnavailable(self._error or f"database for {self.service} not started")
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                # A deferred transaction that reads and then writes fails at once with
                # "database is locked" when another instance wrote in between; taking the
                # write lock first makes it wait (busy_timeout) instead.
                conn = await conn.execution_options(matinee_sqlite_begin="IMMEDIATE")
            async with conn.begin():
                yield conn

    async def applied_versions(self) -> list[int]:
        """Return the migration versions recorded in the database, in order."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(text(f"SELECT version FROM {MIGRATIONS_TABLE} ORDER BY 1"))
            return [int(row[0]) for row in rows]

    async def close(self) -> None:
        """Close every pooled connection."""
        self._started = False
        await self.engine.dispose()


def _validated(migrations: Sequence[Migration]) -> tuple[Migration, ...]:
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)) or any(v < 1 for v in versions):
        raise ValueError(f"migration versions must be positive, unique, increasing: {versions}")
    return tuple(migrations)


def _report_unreachable_as_unavailable(engine: AsyncEngine, service: str) -> None:
    @event.listens_for(engine.sync_engine, "handle_error")
    def on_error(context: ExceptionContext) -> BaseException | None:
        # A database that cannot be reached is a 503 for the caller, not a 500 with a
        # traceback per request; the details (paths, hosts) stay in logs and /readyz.
        if context.connection is None or context.is_disconnect:
            return DatabaseUnavailable(f"database for {service} is unavailable")
        return None


def _enable_wal(cursor: Any) -> None:
    """Switch a connection's file to WAL, waiting out instances doing the same.

    On a brand-new file several instances starting at once race to switch it to WAL;
    that switch answers "database is locked" without going through busy_timeout, so
    it is retried here (this runs on the driver's thread, where sleeping is fine).
    """
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module, which would otherwise
        # run DDL outside any transaction; SQLAlchemy's "begin" below emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
            # The first statement to read the file: a corrupt file fails here, clearly.
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("matinee_sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
