"""A silent service costs the client its route's timeout and a 504, never a hang."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.httpserver import UpstreamPool
from matinee.platform.identity import IdentitySigner
from matinee.services.gateway.api import Edge, EdgeStats, Upstreams
from matinee.services.gateway.domain import CorsPolicy, RouteTable, TokenAuthority
from tests.unit.gateway.test_edge import FakeUpstreamConnection, request

TABLE = """
[[routes]]
method = "GET"
path = "/api/titles/{id}"
service = "catalog"
upstream = "/titles/{id}"
auth = "public"
timeout = 0.05
idempotent = false

[[routes]]
method = "GET"
path = "/api/lists/{id}"
service = "catalog"
upstream = "/lists/{id}"
auth = "public"
timeout = 0.05
"""


async def fetch() -> dict[str, list[str]]:
    return {"keys": []}


def edge(instances: int = 1) -> tuple[Edge, UpstreamPool, Upstreams]:
    discovery = StaticDiscovery(
        [Instance("catalog", f"catalog-{i}", "127.0.0.1", 9100 + i) for i in range(instances)]
    )
    pool = UpstreamPool()
    upstreams = Upstreams(discovery, pool)
    table = RouteTable.from_toml(TABLE)
    gateway = Edge(
        table,
        upstreams=upstreams,
        tokens=TokenAuthority(fetch),
        signer=IdentitySigner("unit-secret", service="gateway"),
        local=None,  # type: ignore[arg-type,unused-ignore]
        cors=CorsPolicy([]),
        stats=EdgeStats(),
    )
    return gateway, pool, upstreams


def silent(pool: UpstreamPool, port: int) -> FakeUpstreamConnection:
    conn = FakeUpstreamConnection()
    pool.host("127.0.0.1", port).release(conn)  # type: ignore[arg-type,unused-ignore]
    return conn


async def eventually(condition: Callable[[], object]) -> None:
    """Wait (at most 2 s) until ``condition()`` holds: the deadline ticker runs on the loop."""
    async with asyncio.timeout(2):
        while not condition():  # noqa: ASYNC110 - the state changes in plain callbacks
            await asyncio.sleep(0.01)


async def test_a_service_that_never_answers_gets_a_504() -> None:
    gateway, pool, upstreams = edge()
    upstream = silent(pool, 9100)
    req, client = request("GET", "/api/titles/7")
    gateway.handle(req)
    await eventually(lambda: client.written)
    status, _, body = client.response()
    assert status == 504
    assert b"did not answer in time" in body
    assert upstream.closed  # the connection is not reused for the next request
    assert len(upstreams.deadlines) == 0


async def test_an_idempotent_request_is_retried_on_another_instance_after_a_timeout() -> None:
    gateway, pool, _ = edge(instances=2)
    first, second = silent(pool, 9100), silent(pool, 9101)
    req, client = request("GET", "/api/lists/7")
    gateway.handle(req)
    await eventually(lambda: first.closed or second.closed)
    retried = second if first.closed else first
    await eventually(lambda: retried.listener is not None)
    retried.listener.on_upstream_head(200, [(b"content-length", b"2")])
    retried.listener.on_upstream_body(b"{}")
    retried.listener.on_upstream_end()
    status, _, body = client.response()
    assert (status, body) == (200, b"{}")


async def test_an_answer_in_time_is_not_followed_by_a_504() -> None:
    gateway, pool, upstreams = edge()
    upstream = silent(pool, 9100)
    req, client = request("GET", "/api/titles/7")
    gateway.handle(req)
    upstream.listener.on_upstream_head(200, [(b"content-length", b"2")])
    upstream.listener.on_upstream_body(b"{}")
    upstream.listener.on_upstream_end()
    assert len(upstreams.deadlines) == 0
    await asyncio.sleep(0.1)
    status, _, body = client.response()
    assert (status, body) == (200, b"{}")
    assert client.written.count(b"HTTP/1.1") == 1
