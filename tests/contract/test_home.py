"""The home page at the edge, composed from real catalog and users instances."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.http import HttpPool, ServiceClient
from matinee.platform.identity import Identity
from matinee.platform.service import ServiceSpec, create_service_app
from matinee.platform.settings import ServiceSettings
from matinee.services.catalog.app import create_app as create_catalog
from matinee.services.catalog.client import CatalogClient
from matinee.services.catalog.settings import CatalogSettings
from matinee.services.gateway.api.home import HomeTimeouts, build_home_router
from matinee.services.users.app import create_app as create_users
from matinee.services.users.client import UsersClient
from matinee.services.users.settings import UsersSettings
from tests.conftest import signed_headers
from tests.contract.conftest import serve

TITLES = [
    {"id": 1, "name": "Toy Story", "year": 1995, "genres": ["Animation"], "maturity_rating": "G",
     "popularity": 9.0},
    {"id": 2, "name": "Heat", "year": 1995, "genres": ["Crime"], "maturity_rating": "R",
     "popularity": 8.0},
    {"id": 3, "name": "Up", "year": 2009, "genres": ["Animation"], "maturity_rating": "PG",
     "popularity": 7.0},
]  # fmt: skip


@pytest.fixture
async def fleet(tmp_path):
    """Catalog and users served for real; the home route in a gateway-shaped app."""
    discovery = StaticDiscovery()
    catalog_app = create_catalog(CatalogSettings(data_dir=tmp_path))
    users_app = create_users(UsersSettings.of(data_dir=tmp_path))
    async with serve(catalog_app) as catalog_port, serve(users_app) as users_port:
        discovery.set(
            [
                Instance("catalog", "catalog-1", "127.0.0.1", catalog_port),
                Instance("users", "users-1", "127.0.0.1", users_port),
            ]
        )
        async with HttpPool() as pool, httpx.AsyncClient() as http:
            service = signed_headers()
            stored = await http.post(
                f"http://127.0.0.1:{catalog_port}/admin/titles:batch",
                json={"titles": TITLES},
                headers=service,
            )
            assert stored.status_code == 200, stored.text
            listed = await http.put(
                f"http://127.0.0.1:{catalog_port}/admin/lists/staff-picks",
                json={"name": "Staff picks", "description": "", "title_ids": [2, 1]},
                headers=service,
            )
            assert listed.status_code in (200, 201), listed.text
            signup = await http.post(
                f"http://127.0.0.1:{users_port}/auth/signup",
                json={"email": "ann@example.com", "password": "correct horse battery"},
                headers=signed_headers(Identity.anonymous()),
            )
            account_id = signup.json()["account_id"]
            viewer = signed_headers(Identity.account(account_id, plan="standard"))
            kids = await http.post(
                f"http://127.0.0.1:{users_port}/profiles",
                json={"name": "Kids", "maturity": "kids"},
                headers=viewer,
            )
            profiles = (
                await http.get(f"http://127.0.0.1:{users_port}/profiles", headers=viewer)
            ).json()
            adult = next(p for p in profiles if p["maturity"] == "adult")

            def client(name: str) -> ServiceClient:
                return ServiceClient(name, resolver=discovery, transport=pool)

            router = build_home_router(
                CatalogClient(client("catalog")),
                UsersClient(client("users")),
                # fresh_for=0: every request asks the sources, so failures show at once.
                timeouts=HomeTimeouts(profile=0.5, source=0.5, fresh_for=0),
            )
            edge = create_service_app(
                ServiceSpec("gateway"), ServiceSettings(data_dir=tmp_path), routers=[router]
            )
            async with serve(edge) as edge_port:
                yield {
                    "home": f"http://127.0.0.1:{edge_port}/api/home",
                    "http": http,
                    "viewer": viewer,
                    "adult": adult["id"],
                    "kids": kids.json()["id"],
                    "discovery": discovery,
                }


def ids(row: dict) -> list[int]:
    return [item["id"] for item in row["items"]]


async def test_home_rows_fit_the_profile(fleet):
    http, home = fleet["http"], fleet["home"]
    adult = await http.get(home, params={"profile": fleet["adult"]}, headers=fleet["viewer"])
    assert adult.status_code == 200, adult.text
    page = adult.json()
    assert page["degraded"] == []
    rows = {r["id"]: r for r in page["rows"]}
    assert ids(rows["popular"]) == [1, 2, 3]
    assert ids(rows["list:staff-picks"]) == [2, 1]
    assert {r["title"] for r in page["rows"]} >= {"Popular on Matinee", "Staff picks", "Animation"}

    kids = await http.get(home, params={"profile": fleet["kids"]}, headers=fleet["viewer"])
    rows = {r["id"]: r for r in kids.json()["rows"]}
    assert ids(rows["popular"]) == [1, 3]  # Heat (R) is not for kids
    assert ids(rows["list:staff-picks"]) == [1]


async def test_catalog_down_still_renders_from_the_last_good_rows(fleet):
    http, home, params = fleet["http"], fleet["home"], {"profile": fleet["adult"]}
    first = await http.get(home, params=params, headers=fleet["viewer"])
    users_only = [i for i in fleet["discovery"].instances("users")]
    fleet["discovery"].set(users_only)  # every catalog instance gone
    # The first page after the loss is served from the last good rows at once while a
    # refresh fails behind it; from then on the page says which sources are missing.
    stale = await http.get(home, params=params, headers=fleet["viewer"])
    assert stale.status_code == 200 and stale.json()["rows"] == first.json()["rows"]
    await asyncio.sleep(0.2)
    degraded = await http.get(home, params=params, headers=fleet["viewer"])
    assert degraded.status_code == 200
    body = degraded.json()
    assert body["degraded"] == ["popular", "lists", "genres"]
    assert body["rows"] == first.json()["rows"]  # served from the last good copy


async def test_users_down_falls_back_to_the_safest_audience(fleet):
    http, home = fleet["http"], fleet["home"]
    catalog_only = list(fleet["discovery"].instances("catalog"))
    fleet["discovery"].set(catalog_only)
    page = await http.get(home, params={"profile": fleet["adult"]}, headers=fleet["viewer"])
    assert page.status_code == 200
    body = page.json()
    assert body["degraded"] == ["profile"] and body["profile"] is None
    rows = {r["id"]: r for r in body["rows"]}
    assert 2 not in ids(rows["popular"])  # kids' audience: no R titles


async def test_someone_elses_profile_and_anonymous_callers_are_refused(fleet):
    http, home = fleet["http"], fleet["home"]
    stranger = signed_headers(Identity.account("not-ann", plan="basic"))
    other = await http.get(home, params={"profile": fleet["adult"]}, headers=stranger)
    assert other.status_code == 404
    anonymous = await http.get(
        home, params={"profile": fleet["adult"]}, headers=signed_headers(Identity.anonymous())
    )
    assert anonymous.status_code == 401
    missing = await http.get(home, headers=fleet["viewer"])
    assert missing.status_code == 400
