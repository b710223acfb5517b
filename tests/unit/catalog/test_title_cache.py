"""Title documents from the read-through cache: fast, and never staler than promised."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from matinee.services.catalog.app import create_app
from matinee.services.catalog.cache import CachedTitles, TitleDocuments
from matinee.services.catalog.domain.memory import InMemoryTitles
from matinee.services.catalog.domain.model import Title
from matinee.services.catalog.settings import CatalogSettings
from tests.conftest import signed_headers


class CountingTitles(InMemoryTitles):
    """In-memory titles that count how often a title is read from storage."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get(self, title_id: int) -> Title:
        self.reads += 1
        await asyncio.sleep(0)
        return await super().get(title_id)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def storage() -> CountingTitles:
    return CountingTitles()


@pytest.fixture
def client(tmp_path: Path, storage: CountingTitles):
    app = create_app(CatalogSettings(data_dir=tmp_path), titles=storage)
    with TestClient(app, headers=signed_headers()) as test_client:
        yield test_client


def test_repeated_reads_come_from_the_cache(client: TestClient, storage: CountingTitles) -> None:
    assert client.put("/admin/titles/7", json={"name": "Heat", "year": 1995}).status_code == 201
    first = client.get("/titles/7")
    again = client.get("/titles/7")
    assert first.status_code == again.status_code == 200
    assert first.headers["content-type"] == "application/json"
    assert again.json() == first.json() and first.json()["name"] == "Heat"
    assert storage.reads == 1


def test_a_write_is_visible_at_once_on_the_instance_that_took_it(
    client: TestClient, storage: CountingTitles
) -> None:
    client.put("/admin/titles/7", json={"name": "Heat", "year": 1995})
    assert client.get("/titles/7").json()["year"] == 1995
    client.put("/admin/titles/7", json={"name": "Heat", "year": 1996})
    assert client.get("/titles/7").json()["year"] == 1996
    client.post("/admin/titles:batch", json={"titles": [{"id": 7, "name": "Heat", "year": 1997}]})
    assert client.get("/titles/7").json()["year"] == 1997


def test_a_missing_title_is_not_cached(client: TestClient) -> None:
    assert client.get("/titles/8").status_code == 404
    client.put("/admin/titles/8", json={"name": "Ronin"})
    assert client.get("/titles/8").json()["name"] == "Ronin"


async def test_a_document_expires_after_its_ttl() -> None:
    clock = Clock()
    docs = TitleDocuments(ttl=2.0, clock=clock)
    loads = []

    async def load() -> bytes:
        loads.append(1)
        return orjson.dumps({"n": len(loads)})

    assert await docs.read_through(1, load) == b'{"n":1}'
    clock.now += 1.9
    assert await docs.read_through(1, load) == b'{"n":1}'
    clock.now += 0.2
    assert await docs.read_through(1, load) == b'{"n":2}'


async def test_concurrent_misses_share_one_read(storage: CountingTitles) -> None:
    docs = TitleDocuments()
    titles = CachedTitles(storage, docs)
    await titles.upsert(Title(id=3, name="Alien"))

    async def load() -> bytes:
        title = await titles.get(3)
        return orjson.dumps({"name": title.name})

    found = await asyncio.gather(*(docs.read_through(3, load) for _ in range(20)))
    assert set(found) == {b'{"name":"Alien"}'}
    assert storage.reads == 1


async def test_a_read_that_raced_a_write_is_not_kept(storage: CountingTitles) -> None:
    docs = TitleDocuments()
    titles = CachedTitles(storage, docs)
    await titles.upsert(Title(id=3, name="Alien"))
    reading = asyncio.Event()
    proceed = asyncio.Event()

    async def slow_load() -> bytes:
        title = await titles.get(3)  # the old row
        reading.set()
        await proceed.wait()
        return orjson.dumps({"name": title.name})

    pending = asyncio.ensure_future(docs.read_through(3, slow_load))
    await reading.wait()
    await titles.upsert(Title(id=3, name="Aliens"))
    proceed.set()
    assert await pending == b'{"name":"Alien"}'  # that caller asked before the write

    async def load() -> bytes:
        return orjson.dumps({"name": (await titles.get(3)).name})

    assert await docs.read_through(3, load) == b'{"name":"Aliens"}'


async def test_the_cache_stays_bounded() -> None:
    docs = TitleDocuments(max_entries=100)

    async def load() -> bytes:
        return b"{}"

    for title_id in range(1000):
        await docs.read_through(title_id, load)
    assert len(docs) <= 100
