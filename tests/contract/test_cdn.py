"""A CDN node on a real socket: the zero-copy path as players and CdnClient see it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.http import HttpPool
from matinee.platform.urlsign import UrlSigner
from matinee.runner import bind_socket
from matinee.services.cdn.app import CdnApp, create_app
from matinee.services.cdn.client import CdnClient
from matinee.services.cdn.settings import CdnSettings
from tests.unit.cdn.fakes import FakeOrigin
from tests.unit.cdn.test_node import asset_objects

SECRET = "contract-url-secret"
SEGMENT = os.urandom(3 * 1024 * 1024 + 17)
INIT = os.urandom(10 * 1024)


@contextlib.asynccontextmanager
async def node(tmp_path, origin: FakeOrigin) -> AsyncIterator[tuple[CdnApp, int]]:
    settings = CdnSettings(data_dir=tmp_path, instance_id="cdn-2", url_secret=SECRET)
    app = create_app(settings, discovery=StaticDiscovery(), origin=origin)
    sock = bind_socket("127.0.0.1", 0)
    task = asyncio.create_task(app.serve(sock, install_signals=False))
    await asyncio.wait_for(app.started.wait(), 10)
    try:
        yield app, sock.getsockname()[1]
    finally:
        app.stop()
        await task
        sock.close()


@pytest.fixture
def origin() -> FakeOrigin:
    objects = asset_objects()
    objects["a1/720p/seg_1.m4s"] = SEGMENT
    objects["a1/720p/init.mp4"] = INIT
    return FakeOrigin(objects)


def url(port: int, name: str, asset: str = "a1") -> str:
    path = UrlSigner(SECRET).path(asset, "sess1", time.time() + 600, name)
    return f"http://127.0.0.1:{port}{path}"


async def raw(port: int, data: bytes, expect: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    got = b""
    with contextlib.suppress(TimeoutError):
        while len(got) < expect:
            chunk = await asyncio.wait_for(reader.read(1 << 20), 5)
            if not chunk:
                break
            got += chunk
    writer.close()
    return got


async def test_segments_are_served_whole_and_by_range_over_sendfile(tmp_path, origin):
    async with node(tmp_path, origin) as (_, port), aiohttp.ClientSession() as http:
        for expected_cache in ("MISS", "HIT"):
            async with http.get(url(port, "720p/seg_1.m4s")) as reply:
                assert reply.status == 200
                assert reply.headers["x-cache"] == expected_cache
                assert await reply.read() == SEGMENT
        headers = {"Range": "bytes=1000000-2999999"}
        async with http.get(url(port, "720p/seg_1.m4s"), headers=headers) as reply:
            assert reply.status == 206
            assert reply.headers["content-range"] == f"bytes 1000000-2999999/{len(SEGMENT)}"
            assert await reply.read() == SEGMENT[1_000_000:3_000_000]
        async with http.head(url(port, "720p/seg_1.m4s")) as reply:
            assert reply.status == 200
            assert int(reply.headers["content-length"]) == len(SEGMENT)
    assert origin.fetches == ["a1/720p/seg_1.m4s"]


async def test_pipelined_requests_mixing_files_and_memory_come_back_in_order(tmp_path, origin):
    async with node(tmp_path, origin) as (_, port):
        seg, init = url(port, "720p/seg_1.m4s"), url(port, "720p/init.mp4")
        paths = [u.split(str(port), 1)[1].encode() for u in (seg, init, seg, init)]
        request = b"".join(b"GET %b HTTP/1.1\r\nhost: x\r\n\r\n" % p for p in paths[:-1])
        request += b"GET %b HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n" % paths[-1]
        data = await raw(port, request, 1 << 30)
    bodies = []
    rest = data
    while rest:
        head, _, rest = rest.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        bodies.append(rest[:length])
        rest = rest[length:]
    assert bodies == [SEGMENT, INIT, SEGMENT, INIT]


async def test_traversal_over_the_wire_is_404(tmp_path, origin):
    (tmp_path / "secret.txt").write_text("do not serve")
    async with node(tmp_path, origin) as (_, port):
        token = url(port, "x").split("/")[4]
        for tail in (b"a1/../../../../secret.txt", b"a1/%2e%2e/%2e%2e/secret.txt", b"/etc/passwd"):
            reply = await raw(
                port, b"GET /s/%b/%b HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
                % (token.encode(), tail), 1 << 20,
            )  # fmt: skip
            assert reply.startswith(b"HTTP/1.1 404"), tail
            assert b"do not serve" not in reply


async def test_the_client_reads_node_status_and_runs_a_prefill(tmp_path, origin):
    # The client signs as this process's service: the node's own chassis set that up.
    async with node(tmp_path, origin) as (_, port), HttpPool() as pool:
        cdn = CdnClient(pool, timeout=2.0)
        me = Instance("cdn", "cdn-2", "127.0.0.1", port)
        job = await cdn.prefill(me, ["a1"], window_s=30, rate_mbps=1000)
        assert job.state == "running" and job.assets == ["a1"]
        for _ in range(100):
            progress = await cdn.prefill_job(me, job.job_id)
            if progress is not None and progress.state != "running":
                break
            await asyncio.sleep(0.05)
        assert progress is not None and progress.state == "done" and progress.filled == 6
        status = await cdn.node(me)
        assert status is not None
        assert (status.node_id, status.region, status.isp) == ("cdn-2", "us-east", "isp-b")
        assert status.assets == ["a1"] and status.used_bytes > 0 and status.healthy
        assert await cdn.node(Instance("cdn", "cdn-9", "127.0.0.1", 1)) is None


async def test_the_node_api_needs_an_identity(tmp_path, origin):
    async with node(tmp_path, origin) as (_, port), aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/node") as reply:
            assert reply.status == 401
        async with http.get(f"http://127.0.0.1:{port}/healthz") as reply:
            assert reply.status == 200
