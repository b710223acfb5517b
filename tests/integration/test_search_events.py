"""search follows the catalog stream on real JetStream; fresh instances rebuild from it."""

from __future__ import annotations

import asyncio
import secrets

import httpx

from matinee.platform.events import JetStreamBus
from matinee.services.catalog.events import TitleUpserted
from matinee.services.search.app import create_app
from matinee.services.search.settings import SearchSettings
from tests.conftest import signed_headers
from tests.contract.conftest import serve
from tests.integration.conftest import NatsServer


async def suggest_until(http: httpx.AsyncClient, q: str, want: str, deadline: float = 10.0):
    """Poll /suggest until ``want`` is the first title; return the items last seen."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        items = (await http.get("/suggest", params={"q": q})).json()["items"]
        if (items and items[0]["title"] == want) or loop.time() > end:
            return items
        await asyncio.sleep(0.05)


async def ready(http: httpx.AsyncClient) -> None:
    for _ in range(200):
        if (await http.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError((await http.get("/readyz")).text)


async def test_a_catalog_event_becomes_searchable_and_a_new_instance_rebuilds(
    tmp_path, nats_server: NatsServer
):
    word = "zq" + secrets.token_hex(4)  # unique in the shared test stream
    base_id = secrets.randbelow(10**9) + 10**6
    catalog = await JetStreamBus.connect(nats_server.url, service="itest-catalog")
    settings = SearchSettings(data_dir=tmp_path, nats_url=nats_server.url)
    try:
        await catalog.publish(
            TitleUpserted(title_id=base_id, name=f"{word.title()}, The", year=1999, popularity=5)
        )
        async with (
            serve(create_app(settings)) as port,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=signed_headers()
            ) as http,
        ):
            await ready(http)
            items = await suggest_until(http, word, f"The {word.title()}")
            assert [i["id"] for i in items] == [base_id]
            # A title published while the instance runs.
            body = TitleUpserted(
                title_id=base_id + 1, name=f"{word.title()} Returns", year=2001, popularity=9
            )
            await catalog.publish(body)
            items = await suggest_until(http, word[:-1], f"{word.title()} Returns")
            assert [i["id"] for i in items] == [base_id + 1, base_id]

        # A fresh instance starts empty and replays the stream before it says it is ready.
        async with (
            serve(create_app(settings)) as port,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=signed_headers()
            ) as http,
        ):
            await ready(http)
            items = (await http.get("/suggest", params={"q": word})).json()["items"]
            assert [i["title"] for i in items] == [f"{word.title()} Returns", f"The {word.title()}"]
    finally:
        await catalog.close()
