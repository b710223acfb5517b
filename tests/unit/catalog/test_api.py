"""The catalog app on in-memory fakes: what admins write is what viewers browse."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from matinee.platform.events import InMemoryBus
from matinee.platform.identity import Identity
from matinee.seed.datasets import Dataset, ListSeed
from matinee.seed.run import seed_catalog
from matinee.services.catalog.api.schemas import BatchOut, ListSummary
from matinee.services.catalog.app import create_app
from matinee.services.catalog.domain.memory import InMemoryTitles
from matinee.services.catalog.events import TitleUpserted
from matinee.services.catalog.settings import CatalogSettings
from tests.conftest import signed_headers

SERIES = {
    "id": 50,
    "name": "Night Shift",
    "kind": "series",
    "maturity_rating": "TV-14",
    "genres": ["Drama"],
    "seasons": [
        {"number": 2, "episodes": [{"number": 1, "name": "Back", "asset_ref": "night-s2e1"}]},
        {"number": 1, "episodes": [{"number": 2, "name": "Two"}, {"number": 1, "name": "One"}]},
    ],
}


@pytest.fixture
def bus() -> InMemoryBus:
    return InMemoryBus()


@pytest.fixture
def client(tmp_path: Path, bus: InMemoryBus):
    app = create_app(CatalogSettings(data_dir=tmp_path), titles=InMemoryTitles(), events=bus)
    with TestClient(app, headers=signed_headers()) as test_client:
        yield test_client


def test_a_batch_is_stored_and_each_title_announced(client: TestClient, bus: InMemoryBus) -> None:
    titles = [
        {"id": 1, "name": "Heat", "year": 1995, "genres": ["Crime"], "maturity_rating": "R"},
        {"id": 2, "name": "Toy Story", "genres": ["Animation"], "cast": ["Tom Hanks"]},
        SERIES,
    ]
    response = client.post("/admin/titles:batch", json={"titles": titles})
    assert response.status_code == 200
    assert response.json() == {"created": 3, "updated": 0}
    again = client.post("/admin/titles:batch", json={"titles": titles[:1]})
    assert again.json() == {"created": 0, "updated": 1}
    announced = [e for e in bus.published if isinstance(e, TitleUpserted)]
    assert [e.title_id for e in announced] == [1, 2, 50, 1]
    assert announced[0].maturity_rating == "R" and announced[1].cast == ["Tom Hanks"]
    assert (announced[2].season_count, announced[2].episode_count) == (2, 3)


def test_a_series_reads_back_with_seasons_and_episodes_in_order(client: TestClient) -> None:
    client.post("/admin/titles:batch", json={"titles": [SERIES]})
    series = client.get("/titles/50").json()
    assert series["kind"] == "series"
    assert [s["number"] for s in series["seasons"]] == [1, 2]
    assert [e["name"] for e in series["seasons"][0]["episodes"]] == ["One", "Two"]
    assert series["seasons"][1]["episodes"][0]["asset_ref"] == "night-s2e1"


def test_viewers_cannot_write(client: TestClient) -> None:
    viewer = signed_headers(Identity.account("9", plan="basic"))
    for method, path, body in (
        ("POST", "/admin/titles:batch", {"titles": [{"id": 1, "name": "X"}]}),
        ("PUT", "/admin/lists/picks", {"name": "Picks"}),
        ("DELETE", "/admin/lists/picks", None),
    ):
        response = client.request(method, path, json=body, headers=viewer)
        assert response.status_code == 403, path
    admin = signed_headers(Identity.account("1", roles=("admin",)))
    assert client.put("/admin/lists/picks", json={"name": "P"}, headers=admin).status_code == 201


async def test_seed_catalog_sends_batches_then_lists() -> None:
    class FakeCatalog:
        def __init__(self) -> None:
            self.batches: list[int] = []
            self.lists: list[str] = []

        async def upsert_titles(self, titles):
            self.batches.append(len(titles))
            return BatchOut(created=len(titles), updated=0)

        async def put_list(self, list_id, *, name, description="", title_ids=()):
            self.lists.append(list_id)
            return ListSummary(id=list_id, name=name, description=description, size=0)

    titles = [{"id": i, "name": f"T{i}"} for i in range(1, 2501)]
    dataset = Dataset("small", "test", titles, [ListSeed("picks", "Picks", "", (1, 2))])
    fake = FakeCatalog()
    report = await seed_catalog(fake, dataset, batch_size=1000)  # type: ignore[arg-type]
    assert sorted(fake.batches) == [501, 1000, 1000]  # 2,500 titles and the sample series
    assert fake.lists == ["picks"]
    assert report.titles == 2501 and report.created == 2501
    assert any("Picks (2)" in line for line in report.lines())
