"""Playback's API in process: starts, leases, heartbeats, stops, and what bad input gets."""

from __future__ import annotations

import asyncio

import pytest
from starlette.testclient import TestClient

from matinee.platform.events import Event, InMemoryBus
from matinee.platform.events.schema import Schemas
from matinee.platform.identity import Identity
from matinee.platform.urlsign import UrlSigner
from matinee.services.media.events import AssetReady, RungSummary
from matinee.services.playback.app import create_app
from matinee.services.playback.domain.memory import InMemoryPlaybackStore
from matinee.services.playback.domain.model import NodeState
from matinee.services.playback.events import EVENTS, PlaybackStopped
from matinee.services.playback.settings import PlaybackSettings
from tests.conftest import signed_headers

ASSET = "0123456789abcdef"
NODES = [
    NodeState("cdn-1", "http://127.0.0.1:9001", region="eu-west", isp="isp-a"),
    NodeState("cdn-2", "http://127.0.0.1:9002", region="us-east", isp="isp-b"),
]


def ready(title_id: int = 1) -> AssetReady:
    rungs = [
        RungSummary(name=f"{h}p", width=h * 16 // 9, height=h, bitrate_kbps=k,
                    average_bitrate_kbps=k * 0.8, codecs="avc1.64001f,mp4a.40.2", frame_rate=25)
        for h, k in ((240, 450), (480, 1500), (720, 3000), (1080, 5500))
    ]  # fmt: skip
    return AssetReady(asset_id=ASSET, title_id=title_id, duration_s=600.0, rungs=rungs)


def as_account(account: str = "acc-1", plan: str = "premium") -> dict[str, str]:
    return signed_headers(Identity.account(account, plan=plan))


@pytest.fixture
def world(tmp_path):
    bus = InMemoryBus()
    store = InMemoryPlaybackStore()
    settings = PlaybackSettings(data_dir=tmp_path, lease_ttl=60)
    app = create_app(settings, store=store, nodes=lambda: NODES, events=bus)
    with TestClient(app) as client:
        asyncio.run(bus.publish(ready()))
        yield client, bus, store, app


def start(client, title_id=1, headers=None, **extra):
    body = {"title_id": title_id, "profile_id": "p1",
            "device": {"max_height": 2160, "codecs": ["avc1"]}, **extra}  # fmt: skip
    return client.post("/playback/start", json=body, headers=headers or as_account())


def types(bus: InMemoryBus) -> list[str]:
    return [e.type for e in bus.published if e.type.startswith("matinee.playback.")]


def test_start_returns_signed_urls_for_every_node_in_failover_order(world):
    client, bus, _, app = world
    got = start(client, region="us-east")
    assert got.status_code == 201, got.text
    body = got.json()
    assert [m["node_id"] for m in body["manifests"]] == ["cdn-2", "cdn-1"]
    assert body["manifests"][0]["url"].startswith("http://127.0.0.1:9002/s/")
    assert body["manifests"][0]["url"].endswith(f"/{ASSET}/master.m3u8")
    assert body["dash"][0]["url"].endswith("/manifest.mpd")
    token = body["manifests"][0]["url"].split("/s/", 1)[1].split("/", 1)[0]
    assert UrlSigner("dev-url-secret").verify(token, ASSET, now=0) == body["session_id"]
    assert body["asset_id"] == ASSET and body["resume_position_s"] == 0
    assert body["lease"]["expires_in_s"] == 60 and body["lease"]["heartbeat_every_s"] == 15
    asyncio.run(app.state.outbox.drain())
    assert "matinee.playback.started" in types(bus)


def test_region_may_come_from_the_gateways_header(world):
    client, *_ = world
    headers = {**as_account(), "x-matinee-region": "us-east"}
    assert start(client, headers=headers).json()["manifests"][0]["node_id"] == "cdn-2"


def test_the_plan_caps_the_ladder(world):
    client, *_ = world
    body = start(client, headers=as_account("b", plan="basic")).json()
    assert [r["height"] for r in body["ladder"]] == [240, 480, 720]
    assert body["max_height"] == 720


def test_unknown_title_404_and_title_without_asset_409(world):
    client, _, store, _ = world
    assert start(client, title_id=999).status_code == 404
    asyncio.run(store.map_title(5, "feedfacefeedface"))
    missing = start(client, title_id=5)
    assert missing.status_code == 409
    assert missing.headers["content-type"] == "application/problem+json"


def test_the_plans_stream_count_is_enforced_with_a_reason(world):
    client, bus, _, app = world
    basic = as_account("solo", plan="basic")
    first = start(client, headers=basic)
    assert first.status_code == 201
    second = start(client, headers=basic)
    assert second.status_code == 403
    assert second.json()["reason"] == "stream_limit"
    assert "1 stream" in second.json()["detail"]
    # Stopping the first frees the lease.
    sid = first.json()["session_id"]
    assert client.post(f"/playback/{sid}/stop", json={"position_s": 42}, headers=basic).is_success
    assert start(client, headers=basic).status_code == 201
    asyncio.run(app.state.outbox.drain())
    assert {"matinee.playback.error", "matinee.playback.stopped"} <= set(types(bus))


def test_a_lease_expires_when_heartbeats_stop(world):
    client, bus, store, app = world
    basic = as_account("gone", plan="basic")
    sid = start(client, headers=basic).json()["session_id"]
    service = app.state.service
    later = service.clock() + 61
    service.clock = lambda: later
    assert start(client, headers=basic).status_code == 201  # the vanished client's lease lapsed
    assert asyncio.run(service.expire_stale()) == 1
    assert store.sessions[sid].state == "expired"
    asyncio.run(app.state.outbox.drain())
    stopped = [e for e in bus.published if e.type == "matinee.playback.stopped"]
    assert stopped and stopped[-1].reason == "expired"
    assert stopped[-1].duration_s == 600.0  # the asset's, even with no client to ask


def test_started_and_stopped_say_how_long_the_title_is(world):
    client, bus, _, app = world
    headers = as_account()
    sid = start(client, headers=headers).json()["session_id"]
    # The title is remapped while the session plays: the event keeps the played asset's.
    asyncio.run(bus.publish(ready().model_copy(update={"asset_id": "f" * 16, "duration_s": 9.0})))
    assert client.post(
        f"/playback/{sid}/stop", json={"position_s": 570}, headers=headers
    ).is_success
    asyncio.run(app.state.outbox.drain())
    (began,) = [e for e in bus.published if e.type == "matinee.playback.started"]
    (ended,) = [e for e in bus.published if e.type == "matinee.playback.stopped"]
    assert began.duration_s == 600.0
    assert (ended.position_s, ended.duration_s, ended.reason) == (570.0, 600.0, "stopped")


def test_the_duration_is_a_compatible_addition_to_version_1():
    # A body from a playback that predates the field reads as "duration unknown" ...
    before = b'{"event_id": "e1", "session_id": "s1", "title_id": 7, "position_s": 5.0}'
    got = Schemas(EVENTS.values()).decode("matinee.playback.stopped", 1, before)
    assert isinstance(got, PlaybackStopped) and (got.position_s, got.duration_s) == (5.0, 0.0)

    # ... and a consumer that predates it still reads today's body, as version 1.
    class StoppedBeforeDurations(Event):
        type = "matinee.playback.stopped"
        position_s: float = 0.0

    today = PlaybackStopped(session_id="s1", title_id=7, position_s=5.0, duration_s=600.0)
    old = Schemas([StoppedBeforeDurations]).decode(today.type, PlaybackStopped.version,
                                                   today.encode())  # fmt: skip
    assert isinstance(old, StoppedBeforeDurations) and old.position_s == 5.0


def test_heartbeats_renew_remember_and_report_switches_and_rebuffers(world):
    client, bus, _, app = world
    headers = as_account()
    sid = start(client, headers=headers).json()["session_id"]
    beat = {"position_s": 10, "buffer_s": 8, "bitrate_kbps": 1500, "rebuffers": 0,
            "throughput_kbps": 4000}  # fmt: skip
    assert client.post(f"/playback/{sid}/heartbeat", json=beat, headers=headers).is_success
    beat.update(position_s=20, bitrate_kbps=3000, rebuffers=1)
    got = client.post(f"/playback/{sid}/heartbeat", json=beat, headers=headers)
    assert got.json()["state"] == "active"
    asyncio.run(app.state.outbox.drain())
    assert {"matinee.playback.bitrate_switched", "matinee.playback.rebuffer"} <= set(types(bus))
    client.post(f"/playback/{sid}/stop", json={"position_s": 123.0}, headers=headers)
    again = start(client, headers=headers).json()
    assert again["resume_position_s"] == 123.0
    # The throughput history now informs the first bitrate (4000 kbps x 0.8 -> 3000).
    assert again["initial_bitrate_kbps"] == 3000


def test_sessions_belong_to_their_account(world):
    client, *_ = world
    sid = start(client).json()["session_id"]
    other = as_account("someone-else")
    assert client.post(f"/playback/{sid}/heartbeat", json={"position_s": 1},
                       headers=other).status_code == 404  # fmt: skip
    assert client.post(f"/playback/{sid}/stop", json={}, headers=other).status_code == 404


def test_a_stopped_session_cannot_be_renewed(world):
    client, *_ = world
    headers = as_account()
    sid = start(client, headers=headers).json()["session_id"]
    client.post(f"/playback/{sid}/stop", json={"position_s": 1}, headers=headers)
    late = client.post(f"/playback/{sid}/heartbeat", json={"position_s": 2}, headers=headers)
    assert late.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title_id": "x", "profile_id": "p"},
        {"title_id": 0, "profile_id": "p"},
        {"title_id": 1, "profile_id": "p" * 200},
        {"title_id": 1, "profile_id": "p", "device": {"max_height": 10**9}},
        {"title_id": 1, "profile_id": "p", "device": {"codecs": ["x"] * 100}},
        {"title_id": 1, "profile_id": "p", "network": {"throughput_kbps": -1}},
    ],
)
def test_bad_starts_get_a_400_problem(world, body):
    client, *_ = world
    got = client.post("/playback/start", json=body, headers=as_account())
    assert got.status_code == 400
    assert got.headers["content-type"] == "application/problem+json"


def test_bad_session_ids_and_bodies_get_4xx_not_500(world):
    client, *_ = world
    headers = as_account()
    assert client.post("/playback/..%2f/heartbeat", json={"position_s": 1},
                       headers=headers).status_code in (400, 404)  # fmt: skip
    assert client.post("/playback/abc/heartbeat", content=b"{", headers=headers).status_code == 400
    assert client.post("/playback/abc/heartbeat", json={"position_s": -5},
                       headers=headers).status_code == 400  # fmt: skip
    huge = client.post("/playback/start", content=b"x" * 20_000, headers=headers)
    assert huge.status_code == 413


def test_services_and_strangers_cannot_start_streams(world):
    client, *_ = world
    assert start(client, headers=signed_headers()).status_code == 403
    assert (
        client.post("/playback/start", json={"title_id": 1, "profile_id": "p"}).status_code == 401
    )


def test_titles_map_to_assets_from_catalog_events(world):
    client, bus, *_ = world
    from matinee.services.catalog.events import TitleUpserted

    asyncio.run(bus.publish(TitleUpserted(title_id=77, name="Toy Story", asset_ref=ASSET)))
    assert start(client, title_id=77).status_code == 201
