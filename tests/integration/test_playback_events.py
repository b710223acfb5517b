"""Playback on real JetStream: it learns assets and titles from events, and publishes its own."""

from __future__ import annotations

import asyncio

from starlette.testclient import TestClient

from matinee.platform.events import JetStreamBus
from matinee.platform.identity import Identity
from matinee.services.catalog.events import TitleUpserted
from matinee.services.media.events import AssetReady, RungSummary
from matinee.services.playback.app import create_app
from matinee.services.playback.domain.model import NodeState
from matinee.services.playback.events import EVENTS
from matinee.services.playback.settings import PlaybackSettings
from tests.conftest import signed_headers

ASSET = "abcdefabcdef0123"


async def _publish(url: str) -> None:
    bus = await JetStreamBus.connect(url, service="tests")
    try:
        rung = RungSummary(name="360p", width=640, height=360, bitrate_kbps=900,
                           average_bitrate_kbps=800, codecs="avc1.64001e,mp4a.40.2",
                           frame_rate=25)  # fmt: skip
        await bus.publish(AssetReady(asset_id=ASSET, title_id=1, duration_s=8.0, rungs=[rung]))
        await bus.publish(TitleUpserted(title_id=862, name="Toy Story", asset_ref=ASSET))
    finally:
        await bus.close()


async def _collect(url: str, seen: list[str], stop: asyncio.Event) -> None:
    bus = await JetStreamBus.connect(url, service="tests")

    async def on(event) -> None:
        seen.append(event.type)

    try:
        await bus.subscribe("matinee.playback.>", "tests-playback", on,
                            schemas=list(EVENTS.values()))  # fmt: skip
        await stop.wait()
    finally:
        await bus.close()


def test_playback_learns_from_media_and_catalog_and_publishes_its_events(nats_server, tmp_path):
    asyncio.run(_publish(nats_server.url))
    settings = PlaybackSettings(data_dir=tmp_path, nats_url=nats_server.url)
    nodes = [NodeState("cdn-1", "http://127.0.0.1:9")]
    headers = signed_headers(Identity.account("acc-9", plan="basic"))
    app = create_app(settings, nodes=lambda: nodes)
    with TestClient(app) as client:
        body = {"title_id": 862, "profile_id": "p"}
        for _ in range(100):  # the feeds catch up in the background
            started = client.post("/playback/start", json=body, headers=headers)
            if started.status_code == 201:
                break
            asyncio.run(asyncio.sleep(0.1))
        assert started.status_code == 201, started.text
        sid = started.json()["session_id"]
        assert client.post("/playback/start", json=body, headers=headers).status_code == 403
        beat = {"position_s": 2, "bitrate_kbps": 900, "rebuffers": 0}
        client.post(f"/playback/{sid}/heartbeat", json=beat, headers=headers)
        beat.update(position_s=4, bitrate_kbps=400, rebuffers=1)
        client.post(f"/playback/{sid}/heartbeat", json=beat, headers=headers)
        client.post(f"/playback/{sid}/stop", json={"position_s": 5}, headers=headers)

    async def collect() -> list[str]:
        seen: list[str] = []
        stop = asyncio.Event()
        task = asyncio.create_task(_collect(nats_server.url, seen, stop))
        for _ in range(100):
            if len(set(seen)) >= 5:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await task
        return seen

    seen = asyncio.run(collect())
    assert set(seen) == {e.type for e in EVENTS.values()}
