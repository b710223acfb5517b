"""The gateway's title route in front of a real catalog instance."""

from __future__ import annotations

import httpx
import pytest

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.services.catalog.app import create_app as create_catalog
from matinee.services.catalog.settings import CatalogSettings
from matinee.services.gateway.app import create_app as create_gateway
from matinee.services.gateway.settings import GatewaySettings
from tests.conftest import signed_headers
from tests.contract.conftest import serve


@pytest.fixture
def discovery() -> StaticDiscovery:
    return StaticDiscovery()


async def test_titles_through_the_edge(tmp_path, discovery):
    catalog = create_catalog(CatalogSettings(data_dir=tmp_path))
    gateway = create_gateway(GatewaySettings(data_dir=tmp_path), discovery=discovery)
    async with serve(catalog) as catalog_port, serve(gateway) as gateway_port:
        discovery.set([Instance("catalog", "catalog-1", "127.0.0.1", catalog_port)])
        async with httpx.AsyncClient() as http:
            await http.put(
                f"http://127.0.0.1:{catalog_port}/admin/titles/7",
                json={"name": "Se7en", "year": 1995},
                headers=signed_headers(),
            )
            edge = f"http://127.0.0.1:{gateway_port}"
            found = await http.get(f"{edge}/api/titles/7")
            assert found.status_code == 200
            assert found.json()["name"] == "Se7en"
            traced = await http.get(
                f"{edge}/api/titles/7",
                headers={"traceparent": "00-11112222333344445555666677778888-1111222233334444-01"},
            )
            assert traced.headers["traceparent"].split("-")[1] == "11112222333344445555666677778888"

            missing = await http.get(f"{edge}/api/titles/8")
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
            bad = await http.get(f"{edge}/api/titles/zero")
            assert bad.status_code == 400

            discovery.set([])  # every catalog instance gone
            down = await http.get(f"{edge}/api/titles/7")
            assert down.status_code == 503
            assert down.json()["reason"] == "no_instances"
