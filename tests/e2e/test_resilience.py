"""Through the gateway, a catalog instance dies mid-load and users do not notice."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

import httpx
import pytest

from tests.conftest import signed_headers
from tests.e2e.conftest import Fleet

pytestmark = pytest.mark.e2e

WORKERS = 4
# Each worker paces itself so the load (~80 req/s) stays under the edge's per-account
# rate limit: this test is about an instance dying, not about being throttled.
PAUSE = 0.05


def catalog_rows(fleet: Fleet) -> list[dict]:
    return [r for r in fleet.status() if r["service"] == "catalog"]


async def load(
    url: str, headers: dict[str, str], stop: asyncio.Event, outcomes: Counter[str]
) -> None:
    async with httpx.AsyncClient(timeout=5, headers=headers) as http:
        while not stop.is_set():
            try:
                response = await http.get(url)
                outcomes[str(response.status_code)] += 1
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1
            await asyncio.sleep(PAUSE)


async def test_kill_9_a_catalog_instance_mid_load(fleet: Fleet):
    rows = fleet.wait_for(
        lambda rs: sum(r["service"] == "catalog" and r["status"] == "UP" for r in rs) >= 2
    )
    victim = next(r for r in rows if r["service"] == "catalog")
    async with httpx.AsyncClient() as http:
        stored = await http.put(
            f"{victim['url']}/admin/titles/1",
            json={"name": "Toy Story", "year": 1995},
            headers=signed_headers(),
        )
        assert stored.status_code in (200, 201)
        credentials = {"email": "resilience@matinee.test", "password": "correct horse battery"}
        signup = await http.post(f"{fleet.gateway_url}/api/auth/signup", json=credentials)
        assert signup.status_code == 201, signup.text
        bearer = {"authorization": f"Bearer {signup.json()['access_token']}"}
        first = await http.get(f"{fleet.gateway_url}/api/titles/1", headers=bearer)
        assert first.status_code == 200 and first.json()["name"] == "Toy Story"

    outcomes: Counter[str] = Counter()
    stop = asyncio.Event()
    url = f"{fleet.gateway_url}/api/titles/1"
    workers = [asyncio.create_task(load(url, bearer, stop, outcomes)) for _ in range(WORKERS)]
    try:
        await asyncio.sleep(1.0)
        before_kill = sum(outcomes.values())
        os.kill(int(victim["pid"]), signal.SIGKILL)
        # Keep the load on until the supervisor has replaced the instance and it is UP.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            replaced = [
                r
                for r in await asyncio.to_thread(catalog_rows, fleet)
                if r["instance_id"] == victim["instance_id"]
                and r["status"] == "UP"
                and r["pid"] != victim["pid"]
            ]
            if replaced:
                break
        else:
            pytest.fail("the supervisor did not bring the killed catalog instance back")
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.gather(*workers)

    total = sum(outcomes.values())
    assert total - before_kill > 100, outcomes  # the load really went on across the kill
    assert outcomes["200"] == total, f"requests failed while an instance died: {outcomes}"
