"""The personal hint through the real search app: the caller's own profile, nobody else's.

The index receives the taste (a spy records what each request hands it); how the index
ranks with it is stated in ``tests/unit/search/test_taste_ranking.py``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.events import InMemoryBus
from matinee.platform.http import HttpPool, ServiceClient
from matinee.platform.identity import Identity
from matinee.services.playback.events import PlaybackStarted, PlaybackStopped
from matinee.services.search.app import create_app
from matinee.services.search.client import SearchClient
from matinee.services.search.domain import LiveIndex
from matinee.services.search.domain.model import MAX_TITLE_FACTOR
from matinee.services.search.settings import SearchSettings
from tests.conftest import acting_as, free_port, signed_headers
from tests.contract.conftest import serve
from tests.unit.search.fixtures import TITLES


class SpyView:
    """The real view, recording the taste each query hands it."""

    def __init__(self, view) -> None:
        self.view = view
        self.tastes: list = []

    def __getattr__(self, name):
        return getattr(self.view, name)

    def suggest(self, query, limit=10, *, max_level=5, taste=None):
        self.tastes.append(taste)
        return self.view.suggest(query, limit, max_level=max_level, taste=taste)

    def search(self, query, **kw):
        self.tastes.append(kw.get("taste"))
        return self.view.search(query, **kw)


async def until(predicate) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture
async def running(tmp_path):
    """Search with a history in its SQLite file, fed acc-1/p1 watching half of title 2."""
    live = LiveIndex(TITLES)
    spy = SpyView(live.view)
    live.view = spy
    bus = InMemoryBus()
    app = create_app(SearchSettings(data_dir=tmp_path), live=live, events=bus)
    async with serve(app) as port, HttpPool() as pool:
        await until(lambda: app.state.follower.subscription is not None)
        began = datetime.now(UTC) - timedelta(hours=1)
        ids = {"account_id": "acc-1", "profile_id": "p1", "title_id": 2, "session_id": "s1"}
        await bus.publish(PlaybackStarted(**ids, occurred_at=began))
        await bus.publish(PlaybackStopped(**ids, position_s=3600.0, watched_s=3600.0))
        resolver = StaticDiscovery([Instance("search", "search-1", "127.0.0.1", port)])
        yield SearchClient(ServiceClient("search", resolver=resolver, transport=pool)), spy


async def test_the_callers_profile_reaches_the_index_as_its_taste(running):
    search, spy = running
    with acting_as(Identity.account("acc-1")):
        found = await search.suggest("matr", profile="p1")
        page = await search.search("matr", profile="p1")
    assert {s.title for s in found} == {"The Matrix", "The Matrix Reloaded"}
    assert page.total == 2
    for taste in spy.tastes:
        assert taste is not None
        assert taste.titles == {2: pytest.approx(MAX_TITLE_FACTOR)}
        assert taste.genres == {"Action": 3.0, "Sci-Fi": 3.0}
    assert len(spy.tastes) == 2


async def test_another_accounts_profile_gives_no_hint(running):
    search, spy = running
    with acting_as(Identity.account("acc-2")):
        found = await search.suggest("matr", profile="p1")  # acc-1's profile id
        await search.search("matr", profile="p1")
    with acting_as(Identity.of_service("gateway")):
        await search.suggest("matr", profile="p1")
    assert len(found) == 2
    assert spy.tastes == [None, None, None]


async def test_no_profile_or_a_profile_without_history_gives_no_hint(running):
    search, spy = running
    with acting_as(Identity.account("acc-1")):
        await search.suggest("matr")
        await search.suggest("matr", profile="p2")
    assert spy.tastes == [None, None]


async def test_with_the_history_database_down_search_answers_and_stays_ready(tmp_path):
    down = f"postgresql://search@127.0.0.1:{free_port()}/search"  # nothing listens there
    settings = SearchSettings(data_dir=tmp_path, database_url=down)
    app = create_app(settings, live=LiveIndex(TITLES))
    headers = signed_headers(Identity.account("acc-1"))
    async with (
        serve(app) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as http,
    ):
        for path in ("/suggest", "/search"):
            for _ in range(3):
                response = await http.get(path, params={"q": "matr", "profile": "p1"})
                assert response.status_code == 200
                assert {i["title"] for i in response.json()["items"]} == {
                    "The Matrix",
                    "The Matrix Reloaded",
                }
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and "database" not in ready.json()["checks"]
