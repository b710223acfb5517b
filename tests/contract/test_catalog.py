"""CatalogClient against the real catalog app on SQLite, through the resilient client."""

from __future__ import annotations

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
        for path in ("/titles/0", "/titles/abc", f"/titles/{2**80}", "/titles?limit=1000"):
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
