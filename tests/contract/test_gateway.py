"""The real edge server in front of a real catalog and a users stand-in (its JWKS)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.identity import IDENTITY_HEADER, IdentitySigner
from matinee.runner import bind_socket
from matinee.services.catalog.app import create_app as create_catalog
from matinee.services.catalog.settings import CatalogSettings
from matinee.services.gateway.app import GatewayApp
from matinee.services.gateway.app import create_app as create_gateway
from matinee.services.gateway.domain import RouteTable
from matinee.services.gateway.settings import GatewaySettings
from tests.conftest import signed_headers
from tests.contract.conftest import serve
from tests.unit.gateway.signing import SigningKeys, alg_none_token

TRACE = "00-11112222333344445555666677778888-1111222233334444-01"


@contextlib.asynccontextmanager
async def running(gateway: GatewayApp) -> AsyncIterator[str]:
    """Serve the gateway on a free port; yield its base URL."""
    sock = bind_socket("127.0.0.1", 0)
    task = asyncio.create_task(gateway.serve(sock, install_signals=False))
    started = asyncio.create_task(gateway.started.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        gateway.stop()
        await task
        sock.close()


def users_stand_in(keys: SigningKeys, seen: list[dict[str, Any]]) -> Starlette:
    """Users as the edge needs it: a JWKS, and endpoints that echo what reached them."""

    async def jwks(request: Request) -> Response:
        return JSONResponse(keys.jwks())

    async def echo(request: Request) -> Response:
        body = await request.body()
        identity = IdentitySigner("dev-internal-secret", service="users").verify(
            request.headers.get(IDENTITY_HEADER)
        )
        seen.append({"path": request.url.path, "identity": identity, "body": body})
        return JSONResponse({"kind": identity.kind, "size": len(body)}, status_code=201)

    return Starlette(
        routes=[
            Route("/.well-known/jwks.json", jwks),
            Route("/auth/login", echo, methods=["POST"]),
            Route("/profiles", echo, methods=["POST"]),
        ]
    )


class HangUp:
    """An instance that reads a request, then closes without answering."""

    def __init__(self) -> None:
        self.requests = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> int:
        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                writer.close()
                return

        self.server = await asyncio.start_server(on_client, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture
def keys() -> SigningKeys:
    return SigningKeys()


async def test_browsing_through_the_edge(tmp_path, keys):
    discovery = StaticDiscovery()
    seen: list[dict[str, Any]] = []
    catalog = create_catalog(CatalogSettings(data_dir=tmp_path))
    gateway = create_gateway(GatewaySettings(data_dir=tmp_path), discovery=discovery)
    async with (
        serve(catalog) as catalog_port,
        serve(users_stand_in(keys, seen)) as users_port,
    ):
        discovery.set(
            [
                Instance("catalog", "catalog-1", "127.0.0.1", catalog_port),
                Instance("users", "users-1", "127.0.0.1", users_port),
            ]
        )
        async with running(gateway) as edge, httpx.AsyncClient() as http:
            await http.put(
                f"http://127.0.0.1:{catalog_port}/admin/titles/7",
                json={"name": "Se7en", "year": 1995},
                headers=signed_headers(),
            )
            bearer = {"authorization": f"Bearer {keys.token('42', plan='basic')}"}
            found = await http.get(f"{edge}/api/titles/7", headers={**bearer, "traceparent": TRACE})
            assert found.status_code == 200
            assert found.json()["name"] == "Se7en"
            assert found.headers["traceparent"].split("-")[1] == TRACE.split("-")[1]
            assert found.headers["x-content-type-options"] == "nosniff"
            assert found.headers["x-request-id"]

            missing = await http.get(f"{edge}/api/titles/8", headers=bearer)
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
            bad = await http.get(f"{edge}/api/titles/zero", headers=bearer)
            assert bad.status_code == 400  # catalog's validation, passed through

            for token in ("", alg_none_token(), SigningKeys().token(), keys.token(ttl=-120)):
                headers = {"authorization": f"Bearer {token}"} if token else {}
                refused = await http.get(f"{edge}/api/titles/7", headers=headers)
                assert refused.status_code == 401
                assert refused.headers["content-type"] == "application/problem+json"

            unknown = await http.get(f"{edge}/api/does-not-exist", headers=bearer)
            assert unknown.status_code == 404 and unknown.json()["status"] == 404

            login = await http.post(f"{edge}/api/auth/login", json={"email": "a@b.c"})
            assert login.status_code == 201 and login.json()["kind"] == "anonymous"
            created = await http.post(f"{edge}/api/profiles", json={"name": "Kim"}, headers=bearer)
            assert created.status_code == 201
            assert seen[-1]["identity"].account_id == "42"
            assert seen[-1]["identity"].plan == "basic"

            too_big = await http.post(
                f"{edge}/api/profiles", content=b"{" + b" " * 10_000 + b"}",
                headers={**bearer, "content-type": "application/json"},
            )  # fmt: skip
            assert too_big.status_code == 413

            health = await http.get(f"{edge}/healthz")
            assert health.status_code == 200 and health.headers["x-frame-options"] == "DENY"
            metrics = (await http.get(f"{edge}/metrics")).text
            assert 'route="/api/titles/{id}",service="catalog",status="200"' in metrics
            assert 'status="401"' in metrics

            discovery.set([Instance("users", "users-1", "127.0.0.1", users_port)])
            down = await http.get(f"{edge}/api/titles/7", headers=bearer)
            assert down.status_code == 503
            assert down.json()["reason"] == "no_instances"


async def test_rate_limited_clients_get_429_with_retry_after(tmp_path, keys):
    async def jwks() -> dict[str, Any]:
        return keys.jwks()

    catalog = create_catalog(CatalogSettings(data_dir=tmp_path))
    discovery = StaticDiscovery()
    gateway = create_gateway(
        GatewaySettings(data_dir=tmp_path, rate_limit_scale=0.01),  # 2 per account
        discovery=discovery,
        jwks=jwks,
    )
    async with serve(catalog) as port, running(gateway) as edge, httpx.AsyncClient() as http:
        discovery.set([Instance("catalog", "catalog-1", "127.0.0.1", port)])
        bearer = {"authorization": f"Bearer {keys.token()}"}
        statuses = [
            (await http.get(f"{edge}/api/titles/1", headers=bearer)).status_code for _ in range(4)
        ]
        assert statuses[:2] == [404, 404] and statuses[2:] == [429, 429]
        limited = await http.get(f"{edge}/api/titles/1", headers=bearer)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["content-type"] == "application/problem+json"


async def test_a_dead_instance_is_retried_for_get_but_never_for_post(tmp_path, keys):
    async def jwks() -> dict[str, Any]:
        return keys.jwks()

    seen: list[dict[str, Any]] = []
    catalog = create_catalog(CatalogSettings(data_dir=tmp_path))
    discovery = StaticDiscovery()
    gateway = create_gateway(
        GatewaySettings(data_dir=tmp_path, rate_limit_scale=100), discovery=discovery, jwks=jwks
    )
    hang_up = HangUp()
    async with (
        serve(catalog) as catalog_port,
        serve(users_stand_in(keys, seen)) as users_port,
        hang_up as dead_port,
        running(gateway) as edge,
        httpx.AsyncClient() as http,
    ):
        await http.put(
            f"http://127.0.0.1:{catalog_port}/admin/titles/1",
            json={"name": "Heat", "year": 1995},
            headers=signed_headers(),
        )
        discovery.set(
            [
                Instance("catalog", "catalog-1", "127.0.0.1", catalog_port),
                Instance("catalog", "catalog-dead", "127.0.0.1", dead_port),
                Instance("users", "users-1", "127.0.0.1", users_port),
                Instance("users", "users-dead", "127.0.0.1", dead_port),
            ]
        )
        bearer = {"authorization": f"Bearer {keys.token()}"}
        gets = [
            (await http.get(f"{edge}/api/titles/1", headers=bearer)).status_code for _ in range(12)
        ]
        assert gets == [200] * 12
        assert hang_up.requests >= 1  # the dead one was tried, and its failures retried

        hung_before = hang_up.requests
        posts = [
            (
                await http.post(f"{edge}/api/profiles", json={"name": f"p{i}"}, headers=bearer)
            ).status_code
            for i in range(12)
        ]
        failed = posts.count(502)
        assert set(posts) <= {201, 502}
        # Every POST that reached the dead instance failed there and went nowhere else.
        assert failed == hang_up.requests - hung_before
        assert len(seen) == posts.count(201)


def streaming_service(received: dict[str, Any]) -> Starlette:
    async def upload(request: Request) -> Response:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
        received["size"] = size
        return JSONResponse({"size": size, "sha256": digest.hexdigest()})

    async def download(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(64):
                yield bytes([i % 251]) * 65536

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    return Starlette(
        routes=[Route("/upload", upload, methods=["POST"]), Route("/download", download)]
    )


STREAM_TABLE = """
[[routes]]
method = "POST"
path = "/api/upload"
service = "files"
upstream = "/upload"
auth = "public"
max_body = 8388608

[[routes]]
method = "GET"
path = "/api/download"
service = "files"
upstream = "/download"
auth = "public"
"""


async def test_large_bodies_stream_both_ways(tmp_path):
    received: dict[str, Any] = {}
    discovery = StaticDiscovery()
    gateway = create_gateway(
        GatewaySettings(data_dir=tmp_path),
        discovery=discovery,
        jwks=_no_keys,
        routes=RouteTable.from_toml(STREAM_TABLE),
    )
    payload = bytes(range(256)) * 20_000  # 5 MB

    async def body() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 100_000):
            yield payload[i : i + 100_000]

    async with (
        serve(streaming_service(received)) as port,
        running(gateway) as edge,
        httpx.AsyncClient(timeout=30) as http,
    ):
        discovery.set([Instance("files", "files-1", "127.0.0.1", port)])
        up = await http.post(
            f"{edge}/api/upload", content=body(), headers={"content-type": "application/json"}
        )
        assert up.status_code == 200
        assert up.json() == {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}

        async with http.stream("GET", f"{edge}/api/download") as down:
            assert down.status_code == 200
            total = 0
            async for chunk in down.aiter_bytes():
                total += len(chunk)
        assert total == 64 * 65536

        too_big = await http.post(
            f"{edge}/api/upload",
            content=b"x" * (9 * 1024 * 1024),
            headers={"content-type": "application/json"},
        )
        assert too_big.status_code == 413


async def _no_keys() -> dict[str, Any]:
    return {"keys": []}
