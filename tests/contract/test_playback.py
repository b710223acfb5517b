"""Playback's client and the reference player against the real playback app.

CDN nodes here are fakes (a small app serving ``/node`` and signed paths from a
folder holding a synthetic asset: real playlists, random segment bytes), and the
edge is a shim that signs the account's identity, as the gateway does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.events import InMemoryBus
from matinee.platform.http import HttpPool, ResponseError, ServiceClient
from matinee.platform.identity import IDENTITY_HEADER, Identity, reset_forwarded, set_forwarded
from matinee.platform.urlsign import UrlRejected, UrlSigner
from matinee.services.media.events import AssetReady, RungSummary
from matinee.services.playback.app import create_app
from matinee.services.playback.client import PlaybackClient
from matinee.services.playback.domain.abr import create
from matinee.services.playback.player import Player
from matinee.services.playback.settings import PlaybackSettings
from tests.conftest import signed_headers
from tests.contract.conftest import serve

ASSET = "00c0ffee00c0ffee"
SEGMENTS = 4
SEG_S = 2.0
RUNGS = {"240p": (426, 240, 400), "720p": (1280, 720, 2400)}


def write_asset(root: Path) -> Path:
    """Write a small but well-formed asset: master, media playlists, init and segments."""
    folder = root / ASSET
    ladder = {"asset_id": ASSET, "title_id": 1, "duration_s": SEGMENTS * SEG_S, "rungs": []}
    audio = '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",URI="audio/index.m3u8"'
    master = ["#EXTM3U", "#EXT-X-VERSION:7", audio]
    for name, (width, height, kbps) in [("audio", (0, 0, 64)), *RUNGS.items()]:
        (folder / name).mkdir(parents=True)
        (folder / name / "init.mp4").write_bytes(os.urandom(800))
        lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2", '#EXT-X-MAP:URI="init.mp4"']
        sizes = []
        for i in range(1, SEGMENTS + 1):
            size = int(kbps * 1000 * SEG_S / 8)
            (folder / name / f"seg_{i}.m4s").write_bytes(os.urandom(size))
            sizes.append(size)
            lines += [f"#EXTINF:{SEG_S:.3f},", f"seg_{i}.m4s"]
        (folder / name / "index.m3u8").write_text("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n")
        if name != "audio":
            attrs = f'BANDWIDTH={kbps * 1000},CODECS="avc1.64001f,mp4a.40.2"'
            master += [f'#EXT-X-STREAM-INF:{attrs},RESOLUTION={width}x{height},AUDIO="aud"',
                       f"{name}/index.m3u8"]  # fmt: skip
            ladder["rungs"].append({"name": name, "playlist": f"{name}/index.m3u8",
                                    "segment_sizes": sizes})  # fmt: skip
    (folder / "master.m3u8").write_text("\n".join(master) + "\n")
    (folder / "ladder.json").write_text(json.dumps(ladder))
    return folder


def fake_cdn(root: Path, node_id: str, region: str, *, fail_after: int | None = None) -> Starlette:
    """A CDN node stand-in: verifies tokens, serves files, answers 503 after ``fail_after``."""
    signer = UrlSigner("dev-url-secret")
    served = {"segments": 0}

    async def node(request: Request) -> Response:
        body = {"node_id": node_id, "region": region, "isp": "isp-a", "healthy": True,
                "load": {"active_requests": 0, "bytes_per_s": 0}, "assets": [ASSET]}  # fmt: skip
        return Response(json.dumps(body), media_type="application/json")

    async def signed(request: Request) -> Response:
        token, asset, path = (request.path_params[k] for k in ("token", "asset", "path"))
        try:
            signer.verify(token, asset, now=0)
        except UrlRejected as exc:
            return Response(str(exc), 403)
        if path.endswith(".m4s"):
            served["segments"] += 1
            if fail_after is not None and served["segments"] > fail_after:
                return Response("gone", 503)
        file = (root / asset / path).resolve()
        if not file.is_relative_to(root) or not file.is_file():
            return Response("no", 404)
        return Response(file.read_bytes())

    routes = [Route("/node", node), Route("/s/{token}/{asset}/{path:path}", signed)]
    return Starlette(routes=routes)


def edge(playback_port: int, account: str, plan: str) -> Starlette:
    """The gateway's part: the bearer becomes a signed identity; /api/... maps to playback."""
    header = signed_headers(Identity.account(account, plan=plan))

    async def forward(request: Request) -> Response:
        path = request.url.path.removeprefix("/api")
        async with aiohttp.ClientSession() as http, http.post(
            f"http://127.0.0.1:{playback_port}{path}", data=await request.body(),
            headers={**header, "content-type": "application/json"},
        ) as resp:  # fmt: skip
            return Response(await resp.read(), resp.status,
                            media_type=resp.headers.get("content-type"))  # fmt: skip

    return Starlette(routes=[Route("/api/playback/{rest:path}", forward, methods=["POST"])])


@contextlib.asynccontextmanager
async def fleet(tmp_path: Path, *, plan: str = "premium", fail_after: int | None = None):
    root = tmp_path / "cdn"
    write_asset(root)
    async with contextlib.AsyncExitStack() as stack:
        ports = []
        for i, region in ((1, "eu-west"), (2, "us-east")):
            app = fake_cdn(root, f"cdn-{i}", region, fail_after=fail_after if i == 1 else None)
            ports.append(await stack.enter_async_context(serve(app)))
        nodes = StaticDiscovery([Instance("cdn", f"cdn-{i + 1}", "127.0.0.1", port,
                                          region=("eu-west", "us-east")[i])
                                 for i, port in enumerate(ports)])  # fmt: skip
        bus = InMemoryBus()
        settings = PlaybackSettings(data_dir=tmp_path, node_poll_interval=0.2)
        app = create_app(settings, discovery=nodes, events=bus)
        playback_port = await stack.enter_async_context(serve(app))
        rungs = [RungSummary(name=n, width=w, height=h, bitrate_kbps=k, average_bitrate_kbps=k,
                             codecs="avc1.64001f,mp4a.40.2", frame_rate=25)
                 for n, (w, h, k) in RUNGS.items()]  # fmt: skip
        await bus.publish(AssetReady(asset_id=ASSET, title_id=1, duration_s=8.0, rungs=rungs))
        edge_port = await stack.enter_async_context(serve(edge(playback_port, "acc-7", plan)))
        yield {"playback": playback_port, "edge": f"http://127.0.0.1:{edge_port}", "bus": bus,
               "app": app, "cdn": ports}  # fmt: skip


async def test_client_starts_beats_and_stops_a_session(tmp_path):
    async with fleet(tmp_path, plan="basic") as f, HttpPool() as pool:
        resolver = StaticDiscovery([Instance("playback", "pb-1", "127.0.0.1", f["playback"])])
        client = PlaybackClient(ServiceClient("playback", resolver=resolver, transport=pool))
        token = set_forwarded(
            signed_headers(Identity.account("acc-1", plan="basic"))[IDENTITY_HEADER]
        )
        try:
            started = await client.start(title_id=1, profile_id="p", region="us-east",
                                         device={"max_height": 1080})  # fmt: skip
            assert [m["node_id"] for m in started["manifests"]] == ["cdn-2", "cdn-1"]
            assert started["manifests"][0]["url"].startswith(f"http://127.0.0.1:{f['cdn'][1]}/s/")
            with pytest.raises(ResponseError) as refused:
                await client.start(title_id=1, profile_id="p")
            assert refused.value.status == 403
            sid = started["session_id"]
            beat = await client.heartbeat(sid, position_s=3.0, buffer_s=4.0, bitrate_kbps=400)
            assert beat["state"] == "active"
            assert (await client.stop(sid, 3.0))["state"] == "stopped"
            with pytest.raises(ResponseError) as unknown:
                await client.start(title_id=404, profile_id="p")
            assert unknown.value.status == 404
        finally:
            reset_forwarded(token)


async def test_the_player_downloads_every_segment_and_reports_qoe(tmp_path):
    async with fleet(tmp_path) as f, aiohttp.ClientSession() as http:
        lines: list[str] = []
        player = Player(http, f["edge"], "token", create("bola"), speed=50, say=lines.append)
        qoe = await player.play(1, "p")
        assert qoe.segments == SEGMENTS and qoe.played_s == SEGMENTS * SEG_S
        assert qoe.mean_bitrate_kbps >= 400 and qoe.failovers == 0
        assert qoe.bytes > SEGMENTS * 400 * 1000 * SEG_S / 8
        await f["app"].state.outbox.drain()
        kinds = {e.type for e in f["bus"].published}
        assert {"matinee.playback.started", "matinee.playback.stopped"} <= kinds
        # The stop tells consumers how far through the title the viewer got: to the end.
        (stopped,) = [e for e in f["bus"].published if e.type == "matinee.playback.stopped"]
        assert stopped.duration_s == SEGMENTS * SEG_S
        assert stopped.position_s == pytest.approx(stopped.duration_s, abs=SEG_S)


async def test_a_failing_node_costs_the_viewer_nothing(tmp_path):
    async with fleet(tmp_path, fail_after=2) as f, aiohttp.ClientSession() as http:
        lines: list[str] = []
        player = Player(http, f["edge"], "token", create("matinee"), speed=50, say=lines.append)
        qoe = await player.play(1, "p", region="eu-west")
        assert qoe.nodes == ["cdn-1", "cdn-2"] and qoe.failovers == 1
        assert qoe.segments == SEGMENTS and qoe.played_s == SEGMENTS * SEG_S
        assert any("continuing on cdn-2" in line for line in lines)
        await asyncio.sleep(0.1)
        await f["app"].state.outbox.drain()
        errors = [e for e in f["bus"].published if e.type == "matinee.playback.error"]
        assert errors and errors[0].node_id == "cdn-1"
