"""A CDN node filling from an origin over HTTP, through media's client, as in the fleet.

The origin is a small HTTP app that counts what it is asked (a stand-in for media's
``GET /origin/...``); the node reaches it through discovery and the resilient client
with its own signed identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.identity import IDENTITY_HEADER, IdentitySigner
from matinee.platform.urlsign import UrlSigner
from matinee.runner import bind_socket
from matinee.services.cdn.app import create_app
from matinee.services.cdn.settings import CdnSettings
from tests.contract.conftest import serve

SECRET = "integration-url-secret"
SEGMENT = os.urandom(2 * 1024 * 1024)


class CountingOrigin:
    """Serves one segment slowly enough for requests to pile up; can fail or stall."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.callers: list[str] = []
        self.mode = "ok"
        verifier = IdentitySigner("dev-internal-secret", service="media")

        async def origin(request: Request) -> Response:
            self.requests.append(request.url.path)
            self.callers.append(verifier.verify(request.headers.get(IDENTITY_HEADER)).service)
            if self.mode == "error":
                return Response(b"boom", 500)
            if self.mode == "stall":
                await asyncio.sleep(1.2)
            await asyncio.sleep(0.1)
            if request.path_params["path"] != "720p/seg_1.m4s":
                return Response(b"", 404)
            return Response(SEGMENT, media_type="video/iso.segment")

        self.app = Starlette(routes=[Route("/origin/{asset}/{path:path}", origin)])


@contextlib.asynccontextmanager
async def fleet(tmp_path) -> AsyncIterator[tuple[CountingOrigin, int]]:
    origin = CountingOrigin()
    async with serve(origin.app) as origin_port:
        discovery = StaticDiscovery([Instance("media", "media-1", "127.0.0.1", origin_port)])
        settings = CdnSettings(
            data_dir=tmp_path, instance_id="cdn-1", url_secret=SECRET, fill_timeout=0.5
        )
        app = create_app(settings, discovery=discovery)
        sock = bind_socket("127.0.0.1", 0)
        task = asyncio.create_task(app.serve(sock, install_signals=False))
        await asyncio.wait_for(app.started.wait(), 10)
        try:
            yield origin, sock.getsockname()[1]
        finally:
            app.stop()
            await task
            sock.close()


def url(port: int, name: str) -> str:
    return f"http://127.0.0.1:{port}" + UrlSigner(SECRET).path(
        "a1", "sess1", time.time() + 600, name
    )


async def test_one_hundred_concurrent_requests_make_one_origin_fill(tmp_path):
    async with fleet(tmp_path) as (origin, port):
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def one() -> tuple[int, bytes]:
                async with http.get(url(port, "720p/seg_1.m4s")) as reply:
                    return reply.status, await reply.read()

            answers = await asyncio.gather(*(one() for _ in range(100)))
    assert all(answer == (200, SEGMENT) for answer in answers)
    assert origin.requests == ["/origin/a1/720p/seg_1.m4s"]
    assert origin.callers == ["cdn"]


async def test_origin_failures_are_502_and_504_and_the_node_recovers(tmp_path):
    async with fleet(tmp_path) as (origin, port), aiohttp.ClientSession() as http:
        origin.mode = "error"
        async with http.get(url(port, "720p/seg_1.m4s")) as reply:
            assert reply.status == 502
            assert reply.content_type == "application/problem+json"
        origin.mode = "stall"
        async with http.get(url(port, "720p/seg_1.m4s")) as reply:
            assert reply.status == 504
        origin.mode = "ok"
        async with http.get(url(port, "720p/seg_1.m4s")) as reply:
            assert reply.status == 200 and await reply.read() == SEGMENT
        async with http.get(url(port, "720p/seg_404.m4s")) as reply:
            assert reply.status == 404
