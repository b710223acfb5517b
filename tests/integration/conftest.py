"""Real engines for integration tests: a nats-server from the wheel, PostgreSQL when set.

``nats_server`` is one JetStream server per test session on a free port (never the
system NATS on 4222), with its store in a temporary dir, killed at the end.
``postgres_url`` is a fresh database on the server named by
``MATINEE_TEST_POSTGRES_URL`` (tests using it skip when unset), dropped at the end.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from matinee.platform.events.server import nats_server_command, nats_url, wait_for_nats
from tests.conftest import free_port


@dataclass(frozen=True)
class NatsServer:
    url: str
    port: int
    store_dir: Path
    process: subprocess.Popen[bytes]


@contextmanager
def running_nats(port: int, store: Path) -> Iterator[NatsServer]:
    """Run a JetStream nats-server from the wheel until the block ends."""
    process = subprocess.Popen(
        nats_server_command(port, store), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_nats(port, timeout=15)
        yield NatsServer(nats_url(port), port, store, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with running_nats(free_port(), tmp_path_factory.mktemp("nats-store")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """Return ``MATINEE_TEST_POSTGRES_URL`` (a server and a database to connect to first)."""
    url = os.environ.get("MATINEE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("MATINEE_TEST_POSTGRES_URL is not set")
    return url


@pytest.fixture
async def postgres_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """Yield the URL of a fresh PostgreSQL database, dropped after the test."""
    admin = make_url(postgres_admin_url)
    name = f"matinee_test_{secrets.token_hex(6)}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
