"""catalog announces every stored title on real JetStream, carrying the request's trace."""

from __future__ import annotations

import asyncio

import httpx

from matinee.platform.events import JetStreamBus
from matinee.platform.telemetry.tracing import current_trace_id
from matinee.services.catalog.app import create_app
from matinee.services.catalog.events import TitleUpserted
from matinee.services.catalog.settings import CatalogSettings
from tests.conftest import signed_headers
from tests.contract.conftest import serve
from tests.integration.conftest import NatsServer

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_upsert_publishes_title_upserted_with_the_trace(tmp_path, nats_server: NatsServer):
    settings = CatalogSettings(data_dir=tmp_path, nats_url=nats_server.url)
    received: asyncio.Queue[tuple[TitleUpserted, str]] = asyncio.Queue()

    async def on_title(event: TitleUpserted) -> None:
        await received.put((event, current_trace_id()))

    consumer = await JetStreamBus.connect(nats_server.url, service="itest-search")
    try:
        await consumer.subscribe(
            TitleUpserted.type, "itest-catalog-consumer", on_title, schemas=[TitleUpserted]
        )
        async with serve(create_app(settings)) as port, httpx.AsyncClient() as http:
            http.headers.update(signed_headers())
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
            assert ready.json()["checks"] == {"database": "ok", "events": "ok"}
            response = await http.put(
                f"http://127.0.0.1:{port}/admin/titles/603",
                json={"name": "The Matrix", "year": 1999, "genres": ["Action", "Sci-Fi"]},
                headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"},
            )
            assert response.status_code == 201
            event, trace_id = await asyncio.wait_for(received.get(), 10)
        assert (event.title_id, event.name, event.genres) == (
            603,
            "The Matrix",
            ["Action", "Sci-Fi"],
        )
        assert trace_id == TRACE
    finally:
        await consumer.close()
