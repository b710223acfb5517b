"""CatalogClient against the real catalog app on SQLite, through the resilient client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.http import CallFailed, HttpPool, ServiceClient
from matinee.platform.identity import Identity
from matinee.services.catalog.app import create_app
from matinee.services.catalog.client import CatalogClient
from matinee.services.catalog.settings import CatalogSettings
from tests.conftest import signed_headers
from tests.contract.conftest import serve


@pytest.fixture
def settings(tmp_path):
    return CatalogSettings(data_dir=tmp_path)


async def test_client_reads_what_the_admin_api_wrote(settings):
    app = create_app(settings)
    async with serve(app) as port, HttpPool() as pool:
        resolver = StaticDiscovery([Instance("catalog", "catalog-1", "127.0.0.1", port)])
        http = ServiceClient("catalog", resolver=resolver, transport=pool)
        created = await http.request(
            "PUT",
            "/admin/titles/862",
            json={"name": "Toy Story", "year": 1995, "genres": ["Animation"], "popularity": 9.1},
        )
        assert created.status == 201
        again = await http.request("PUT", "/admin/titles/862", json={"name": "Toy Story"})
        assert again.status == 200

        catalog = CatalogClient(http)
        title = await catalog.get_title(862)
        assert title is not None and title.name == "Toy Story" and title.year is None
        assert await catalog.get_title(999) is None


async def test_titles_survive_a_restart_on_the_same_database(settings):
    async with serve(create_app(settings)) as port, HttpPool() as pool:
        http = ServiceClient(
            "catalog",
            resolver=StaticDiscovery([Instance("catalog", "c1", "127.0.0.1", port)]),
            transport=pool,
        )
        await http.request("PUT", "/admin/titles/1", json={"name": "Heat", "year": 1995})
    async with serve(create_app(settings)) as port, HttpPool() as pool:
        http = ServiceClient(
            "catalog",
            resolver=StaticDiscovery([Instance("catalog", "c1", "127.0.0.1", port)]),
            transport=pool,
        )
        title = await CatalogClient(http).get_title(1)
        assert title is not None and title.name == "Heat"


async def test_bad_input_gets_problems_not_500s(settings):
    async with serve(create_app(settings)) as port, HttpPool() as pool:
        http = ServiceClient(
            "catalog",
            resolver=StaticDiscovery([Instance("catalog", "c1", "127.0.0.1", port)]),
            transport=pool,
        )
        for path in (
            "/titles/0",
            "/titles/abc",
            f"/titles/{2**80}",
            "/titles?page_size=1000",
            "/titles?page=0",
            "/titles?page=x",
            "/titles?sort=rating",
            "/titles?max_maturity=toddler",
            "/genres/0/titles",
            "/genres/1/titles?sort=popular",
            "/lists/Not%20A%20Slug",
        ):
            response = await http.request("GET", path)
            assert response.status == 400, path
            assert response.headers["content-type"] == "application/problem+json"
        bad_body = await http.request("PUT", "/admin/titles/5", json={"name": "", "year": 3})
        assert bad_body.status == 400
        assert {e["field"] for e in bad_body.json()["errors"]} >= {"body.name", "body.year"}


async def test_no_instance_is_a_call_failure_the_caller_can_handle():
    async with HttpPool() as pool:
        catalog = CatalogClient(
            ServiceClient("catalog", resolver=StaticDiscovery(), transport=pool)
        )
        with pytest.raises(CallFailed) as info:
            await catalog.get_title(1)
        assert info.value.reason == "no_instances"


async def test_catalog_refuses_callers_that_skipped_the_edge(settings):
    async with serve(create_app(settings)) as port, httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{port}"
        unsigned = await http.get(f"{base}/titles/1")
        assert unsigned.status_code == 401
        assert unsigned.headers["content-type"] == "application/problem+json"
        viewer = signed_headers(Identity.account("7", plan="basic"))
        assert (await http.get(f"{base}/titles/1", headers=viewer)).status_code == 404
        write = await http.put(f"{base}/admin/titles/1", json={"name": "X"}, headers=viewer)
        assert write.status_code == 403


MOVIES = [
    # id, name, year, genres, popularity, rating
    (1, "The Matrix", 1999, ["Action", "Sci-Fi"], 90.0, "R"),
    (2, "Toy Story", 1995, ["Animation", "Comedy"], 80.0, "G"),
    (3, "Alien", 1979, ["Horror", "Sci-Fi"], 70.0, "R"),
    (4, "Zootopia", 2016, ["Animation", "Comedy"], 60.0, "PG"),
    (5, "An American Tail", 1986, ["Animation"], 50.0, "G"),
    (6, "Clueless", 1995, ["Comedy"], 40.0, "PG-13"),
    (7, "Mystery Film", None, ["Comedy"], 30.0, "NR"),
]
SERIES = {
    "id": 100,
    "name": "Night Shift",
    "kind": "series",
    "year": 2020,
    "genres": ["Comedy"],
    "maturity_rating": "TV-14",
    "popularity": 10.0,
    "seasons": [
        {
            "number": 1,
            "name": "Season 1",
            "episodes": [
                {"number": 1, "name": "Pilot", "runtime_minutes": 42, "asset_ref": "ns-s1e1"},
                {"number": 2, "name": "Second", "runtime_minutes": 40, "asset_ref": "ns-s1e2"},
            ],
        },
        {"number": 2, "episodes": [{"number": 1, "name": "Return", "asset_ref": "ns-s2e1"}]},
    ],
}


@pytest.fixture
async def catalog(settings) -> AsyncIterator[tuple[CatalogClient, ServiceClient]]:
    async with serve(create_app(settings)) as port, HttpPool() as pool:
        http = ServiceClient(
            "catalog",
            resolver=StaticDiscovery([Instance("catalog", "c1", "127.0.0.1", port)]),
            transport=pool,
        )
        client = CatalogClient(http)
        batch = [
            {"id": i, "name": n, "year": y, "genres": g, "popularity": p, "maturity_rating": r}
            for i, n, y, g, p, r in MOVIES
        ]
        result = await client.upsert_titles([*batch, SERIES])
        assert (result.created, result.updated) == (len(MOVIES) + 1, 0)
        yield client, http


async def test_genres_list_every_genre_with_its_title_count(catalog) -> None:
    client, _ = catalog
    genres = {g.name: g.title_count for g in await client.genres()}
    assert genres == {"Action": 1, "Animation": 3, "Comedy": 5, "Horror": 1, "Sci-Fi": 2}


async def test_genre_titles_page_in_each_order(catalog) -> None:
    client, _ = catalog
    comedy = next(g for g in await client.genres() if g.name == "Comedy")

    async def names(sort: str, page: int = 1, page_size: int = 20) -> list[str]:
        found = await client.genre_titles(comedy.id, page=page, page_size=page_size, sort=sort)
        assert found is not None and found.total == 5
        return [t.name for t in found.items]

    assert await names("popularity") == [
        "Toy Story", "Zootopia", "Clueless", "Mystery Film", "Night Shift",
    ]  # fmt: skip
    # Newest first; a title without a year comes last.
    assert await names("year") == [
        "Night Shift", "Zootopia", "Toy Story", "Clueless", "Mystery Film",
    ]  # fmt: skip
    assert await names("title") == [
        "Clueless", "Mystery Film", "Night Shift", "Toy Story", "Zootopia",
    ]  # fmt: skip
    assert await names("title", page=2, page_size=2) == ["Night Shift", "Toy Story"]
    assert await names("title", page=3, page_size=2) == ["Zootopia"]
    assert await names("title", page=4, page_size=2) == []
    assert await client.genre_titles(999) is None


async def test_max_maturity_hides_what_a_profile_may_not_see(catalog) -> None:
    client, _ = catalog
    kids = await client.popular(20, max_maturity="kids")
    assert [t.name for t in kids] == ["Toy Story", "Zootopia", "An American Tail"]
    teen = await client.titles(max_maturity="teen", sort="title")
    assert [t.name for t in teen.items] == [
        "An American Tail", "Clueless", "Night Shift", "Toy Story", "Zootopia",
    ]  # fmt: skip
    assert teen.total == 5
    everything = await client.titles(page_size=3)
    assert everything.total == 8 and len(everything.items) == 3
    animation = next(g for g in await client.genres() if g.name == "Animation")
    page = await client.genre_titles(animation.id, max_maturity="kids", sort="year")
    assert page is not None and [t.name for t in page.items] == [
        "Zootopia", "Toy Story", "An American Tail",
    ]  # fmt: skip


async def test_a_series_has_seasons_and_episodes(catalog) -> None:
    client, _ = catalog
    series = await client.get_title(100)
    assert series is not None and series.kind == "series"
    assert [(s.number, len(s.episodes)) for s in series.seasons] == [(1, 2), (2, 1)]
    assert series.seasons[0].episodes[0].asset_ref == "ns-s1e1"
    assert series.maturity_rating == "TV-14"
    movie = await client.get_title(1)
    assert movie is not None and movie.seasons == [] and movie.maturity_rating == "R"


async def test_admins_curate_lists_and_viewers_read_them(catalog, settings) -> None:
    client, http = catalog
    created = await client.put_list(
        "staff-picks", name="Staff picks", description="Ours", title_ids=[3, 1, 100]
    )
    assert created.size == 3
    picks = await client.get_list("staff-picks")
    assert picks is not None and [t.id for t in picks.items] == [3, 1, 100]
    await client.put_list("staff-picks", name="Staff picks", title_ids=[2])
    assert [(s.id, s.size) for s in await client.lists()] == [("staff-picks", 1)]
    unknown = await http.request(
        "PUT", "/admin/lists/bad", json={"name": "Bad", "title_ids": [1, 4242]}
    )
    assert unknown.status == 400 and "4242" in unknown.json()["detail"]
    assert await client.get_list("bad") is None

    viewer = signed_headers(Identity.account("7", plan="basic"))
    as_viewer = await http.request(
        "PUT", "/admin/lists/staff-picks", json={"name": "Mine"}, headers=viewer
    )
    assert as_viewer.status == 403
    gone = await http.request("DELETE", "/admin/lists/staff-picks", headers=viewer)
    assert gone.status == 403
    assert (await client.get_list("staff-picks")) is not None
    assert await client.delete_list("staff-picks") is True
    assert await client.delete_list("staff-picks") is False
    assert await client.lists() == []


async def test_batch_errors_name_the_item_and_store_nothing(catalog) -> None:
    client, http = catalog
    bad = [
        {"id": 200, "name": "Fine"},
        {"id": 201, "name": "Wrong rating", "maturity_rating": "TV-MA"},
    ]
    response = await http.request("POST", "/admin/titles:batch", json={"titles": bad})
    assert response.status == 400
    assert response.json()["errors"][0]["field"] == "body.titles.1"
    assert "not for a movie" in response.json()["detail"]
    assert await client.get_title(200) is None

    duplicate = [{"id": 300, "name": "A"}, {"id": 300, "name": "B"}]
    response = await http.request("POST", "/admin/titles:batch", json={"titles": duplicate})
    assert response.status == 400 and "id 300 appears twice" in response.json()["detail"]
    seasons_on_a_movie = [{"id": 301, "name": "M", "seasons": [{"number": 1}]}]
    response = await http.request(
        "POST", "/admin/titles:batch", json={"titles": seasons_on_a_movie}
    )
    assert response.status == 400 and "only a series has seasons" in response.json()["detail"]
    too_many = [{"id": i, "name": "x"} for i in range(1, 1002)]
    response = await http.request("POST", "/admin/titles:batch", json={"titles": too_many})
    assert response.status == 400
    empty = await http.request("POST", "/admin/titles:batch", json={"titles": []})
    assert empty.status == 400


class _Signed:
    """A ServiceClient stand-in that signs as a service, as ``matinee seed`` does."""

    def __init__(self, http: ServiceClient) -> None:
        self._http = http

    async def request(self, method: str, path: str, *, headers=None, **kw):
        return await self._http.request(
            method, path, headers={**signed_headers(), **(headers or {})}, **kw
        )


async def test_the_seed_creates_the_demo_and_admin_accounts_once(tmp_path) -> None:
    users_app = pytest.importorskip("matinee.services.users.app")
    from matinee.platform.identity import IdentitySigner
    from matinee.seed.run import ADMIN_EMAIL, DEMO_EMAIL, seed_accounts
    from matinee.services.users.settings import UsersSettings

    app = users_app.create_app(UsersSettings(data_dir=tmp_path))
    async with serve(app) as port, HttpPool() as pool:
        users = ServiceClient(
            "users",
            resolver=StaticDiscovery([Instance("users", "u1", "127.0.0.1", port)]),
            transport=pool,
        )
        signer = IdentitySigner("dev-internal-secret", service="seed")
        demo, admin = await seed_accounts(
            _Signed(users),  # type: ignore[arg-type]
            signer,
            password=lambda: "a-long-demo-password",
        )
        assert demo.created and admin.created
        assert demo.profiles == ["Alex (adult)", "Kids (kids)"]
        anonymous = signed_headers(Identity.anonymous())
        for email in (DEMO_EMAIL, ADMIN_EMAIL):
            login = await users.request(
                "POST",
                "/auth/login",
                json={"email": email, "password": "a-long-demo-password"},
                headers=anonymous,
            )
            assert login.status == 200, email
        as_demo = signed_headers(Identity.account(demo.account_id, plan="premium"))
        profiles = (await users.request("GET", "/profiles", headers=as_demo)).json()
        found = {(p["name"], p["maturity"]) for p in profiles}
        assert {("Alex", "adult"), ("Kids", "kids")} <= found

        previous = {"demo": {"password": "a-long-demo-password", "profiles": ["Alex (adult)"]}}
        again, _ = await seed_accounts(_Signed(users), signer, previous=previous)  # type: ignore[arg-type]
        assert not again.created and again.password == "a-long-demo-password"
