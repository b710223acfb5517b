"""HttpPool against a real aiohttp server on 127.0.0.1: HTTP, keep-alive, timeouts, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from matinee.platform.discovery import Instance
from matinee.platform.http import CallFailed, HttpPool, ServiceClient, TransportError
from matinee.platform.telemetry.tracing import TraceContext, reset_current, set_current
from tests.conftest import free_port


class StaticResolver:
    def __init__(self, *instances: Instance) -> None:
        self._instances = list(instances)

    def instances(self, service: str) -> list[Instance]:
        return self._instances


async def _peer(request: web.Request) -> web.Response:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return web.json_response(
        {
            "client_port": peer[1] if peer else None,
            "method": request.method,
            "query": dict(request.query),
            "body": (await request.text()),
            "traceparent": request.headers.get("traceparent"),
        }
    )


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


async def _slow_body(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Length": "100"})
    await resp.prepare(request)
    await resp.write(b"partial")
    await asyncio.sleep(5)
    return resp


async def _missing(request: web.Request) -> web.Response:
    return web.json_response({"title": "Not Found"}, status=404)


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/peer", _peer)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/slow-body", _slow_body)
    app.router.add_get("/missing", _missing)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_pool_speaks_http_and_reuses_connections(server: str) -> None:
    async with HttpPool() as pool:
        first = await pool.send("GET", f"{server}/peer?a=1", headers={}, body=None, timeout=2.0)
        second = await pool.send(
            "POST", f"{server}/peer", headers={"X-A": "b"}, body=b"hello", timeout=2.0
        )
        assert first.status == 200 and second.status == 200
        assert first.headers["Content-Type"].startswith("application/json")
        one, two = first.json(), second.json()
        assert one["query"] == {"a": "1"} and two["method"] == "POST" and two["body"] == "hello"
        assert one["client_port"] == two["client_port"]  # the same kept-alive connection
        missing = await pool.send("GET", f"{server}/missing", headers={}, body=None, timeout=2.0)
        assert missing.status == 404


async def test_pool_times_out_and_reports_unreachable_hosts(server: str) -> None:
    pool = HttpPool()
    try:
        with pytest.raises(TimeoutError):
            await pool.send("GET", f"{server}/slow", headers={}, body=None, timeout=0.1)
        with pytest.raises(TimeoutError):  # headers on time, body late: still bounded
            await pool.send("GET", f"{server}/slow-body", headers={}, body=None, timeout=0.1)
        closed = f"http://127.0.0.1:{free_port()}/peer"
        with pytest.raises(TransportError):
            await pool.send("GET", closed, headers={}, body=None, timeout=2.0)
    finally:
        await pool.close()
    with pytest.raises(RuntimeError):
        await pool.send("GET", f"{server}/peer", headers={}, body=None, timeout=1.0)


async def test_service_client_through_the_pool(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    live = Instance("echo", "echo-1", "127.0.0.1", port)
    dead = Instance("echo", "echo-2", "127.0.0.1", free_port())
    async with HttpPool() as pool:
        client = ServiceClient("echo", resolver=StaticResolver(live, dead), transport=pool)
        for _ in range(6):  # GETs that land on the dead instance are retried on the live one
            data = await client.get_json("/peer", params={"q": "x"})
            assert data["query"] == {"q": "x"}
        only_dead = ServiceClient("echo", resolver=StaticResolver(dead), transport=pool)
        with pytest.raises(CallFailed) as info:
            await only_dead.request("GET", "/peer")
        assert info.value.reason == "connection"
        only_live = ServiceClient("echo", resolver=StaticResolver(live), transport=pool)
        # The client arms no timer of its own over HttpPool: the pool's timeout must hold.
        with pytest.raises(CallFailed) as info:
            await only_live.request("GET", "/slow", timeout=0.1)
        assert info.value.reason == "timeout"
        trace = TraceContext.new()
        token = set_current(trace)
        try:
            seen = (await only_live.get_json("/peer"))["traceparent"]
        finally:
            reset_current(token)
        assert seen.split("-")[1] == trace.trace_id
