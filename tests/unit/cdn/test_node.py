"""Prefill, the status steering reads, and where a node says it is."""

from __future__ import annotations

import asyncio

import orjson

from matinee.platform.discovery import StaticDiscovery
from matinee.services.cdn.app import create_app
from matinee.services.cdn.settings import CdnSettings
from tests.unit.cdn.fakes import FakeOrigin, World

LADDER = {
    "hls": "master.m3u8",
    "dash": "manifest.mpd",
    "rungs": [{"playlist": "240p/index.m3u8", "init": "240p/init.mp4",
               "segments": ["240p/seg_1.m4s", "240p/seg_2.m4s"]}],
    "audio": None,
}  # fmt: skip


def asset_objects() -> dict[str, bytes]:
    objects = {"a1/ladder.json": orjson.dumps(LADDER)}
    for name in ("master.m3u8", "manifest.mpd", "240p/index.m3u8", "240p/init.mp4"):
        objects[f"a1/{name}"] = b"x" * 100
    for i in (1, 2):
        objects[f"a1/240p/seg_{i}.m4s"] = b"s" * 5000
    return objects


async def wait_for(job, states=("done", "window_closed", "failed")) -> None:
    for _ in range(200):
        if job.state in states:
            return
        await asyncio.sleep(0.01)


async def test_prefill_fills_every_object_of_the_asset(tmp_path):
    world = World(tmp_path, asset_objects())
    job = world.node.prefill(["a1", "nope"], window_s=60, rate_bytes_per_s=1e9)
    await wait_for(job)
    assert job.state == "done"
    assert job.planned == 6 and job.filled == 6 and job.failed == 0
    assert job.missing_assets == ["nope"]
    assert world.cache.used_bytes == len(orjson.dumps(LADDER)) + 4 * 100 + 2 * 5000
    again = world.node.prefill(["a1"], window_s=60, rate_bytes_per_s=1e9)
    await wait_for(again)
    assert again.cached == 6 and again.filled == 0


async def test_prefill_keeps_to_its_rate_and_window(tmp_path):
    world = World(tmp_path, asset_objects())
    clock = [0.0]
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        clock[0] += seconds

    world.node._clock = lambda: clock[0]
    world.node._sleep = sleep
    job = world.node.prefill(["a1"], window_s=3.0, rate_bytes_per_s=1000)
    await wait_for(job)
    assert job.state == "window_closed"
    assert job.filled < job.planned
    # Never faster than the rate: bytes filled by the time of each fetch stay under rate*t.
    assert job.bytes_filled <= 1000 * clock[0] + 5000


async def test_status_reports_place_load_capacity_and_inventory(tmp_path):
    world = World(tmp_path, asset_objects(), capacity=1_000_000)
    assert (await world.get("/s/forged/a1/master.m3u8"))[0] == 403
    job = world.node.prefill(["a1"], window_s=60, rate_bytes_per_s=1e9)
    await wait_for(job)
    status = world.node.status()
    assert status["node_id"] == "cdn-1"
    assert (status["region"], status["isp"]) == ("eu-west", "isp-a")
    assert status["healthy"] is True
    assert status["capacity_bytes"] == 1_000_000
    assert status["used_bytes"] == world.cache.used_bytes > 0
    assert status["assets"] == ["a1"]
    assert status["load"] == {"active_requests": 0, "bytes_per_s": 0.0}


def test_nodes_take_their_region_and_isp_from_their_number(tmp_path):
    places = []
    for instance in ("cdn-1", "cdn-2", "cdn-3"):
        settings = CdnSettings(data_dir=tmp_path, instance_id=instance)
        app = create_app(settings, discovery=StaticDiscovery(), origin=FakeOrigin())
        own = app.asgi.state.instance
        places.append((own.region, own.metadata["isp"], own.zone))
        assert own.metadata["capacity_bytes"] == str(settings.capacity_bytes)
        assert app.node.cache.root == (tmp_path / "services/cdn" / instance / "cache").resolve()
    assert places == [
        ("eu-west", "isp-a", "eu-west-isp-a"),
        ("us-east", "isp-b", "us-east-isp-b"),
        ("eu-west", "isp-a", "eu-west-isp-a"),
    ]


def test_an_explicit_region_wins(tmp_path):
    settings = CdnSettings(data_dir=tmp_path, instance_id="cdn-2", region="ap-south")
    assert settings.placement() == ("ap-south", "isp-b")
