"""Two registry apps that are each other's peers, in-process: replication and the start-up sync."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson

from matinee.platform.discovery import Instance, RegistryDiscovery, eureka_registration
from matinee.platform.http import Response, TransportError
from matinee.services.registry.app import create_app
from matinee.services.registry.settings import RegistrySettings

JSON = {"Accept": "application/json"}
A, B = "http://a/eureka", "http://b/eureka"


class Wire:
    """The network between the registries (and clients): host -> app, or down, or hung."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.AsyncClient] = {}
        self.down: set[str] = set()
        self.hung: dict[str, asyncio.Event] = {}
        self.seen: list[tuple[str, str, str]] = []  # (host, method, path) of every call

    async def send(self, method: str, url: str, **kw: Any) -> Response:
        host = url.split("//", 1)[1].split("/", 1)[0]
        self.seen.append((host, method, "/" + url.split("//", 1)[1].split("/", 1)[1]))
        if host in self.hung:
            await self.hung[host].wait()
        client = self.apps.get(host)
        if host in self.down or client is None:
            raise TransportError(f"{host}: connection refused")
        headers: Mapping[str, str] = kw["headers"]
        reply = await client.request(method, url, content=kw["body"], headers=dict(headers))
        return Response(reply.status_code, reply.headers, reply.content)

    def replicated_to(self, host: str) -> list[tuple[str, str]]:
        return [(m, p) for h, m, p in self.seen if h == host and "/eureka/" in p]


@contextlib.asynccontextmanager
async def registry(
    wire: Wire, host: str, peers: str, data: Path, *, wait: bool = True, shared: bool = False
) -> AsyncIterator[Any]:
    """Run one registry app as ``host`` on ``wire``, peered with ``peers``."""
    settings = RegistrySettings(
        data_dir=data if shared else data / host,
        # A port, so the registry registers itself (nothing listens: the wire is in-process).
        port=8761 if host == "a" else 8762,
        instance_id=f"registry-{host}",
        registry_peers=peers,
        registry_replication_retries=1,
        registry_peer_retry_interval=0.05,
        registry_peer_sync_timeout=1.0,
    )
    app = create_app(settings, background=False, peer_transport=wire)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}")
    async with app.router.lifespan_context(app):
        wire.apps[host] = client
        if wait:
            await asyncio.wait_for(app.state.warm.wait(), 5)
        try:
            yield app
        finally:
            wire.apps.pop(host, None)
            await client.aclose()


async def settle(*apps: Any) -> None:
    for _ in range(3):
        for app in apps:
            for peer in app.state.replicator.peers:
                await asyncio.wait_for(peer.idle(), 5)
        await asyncio.sleep(0)


def catalog(n: int) -> Instance:
    return Instance("catalog", f"catalog-{n}", "127.0.0.1", 9000 + n, version="1.0")


async def ids(wire: Wire, host: str) -> set[str]:
    reply = await wire.send("GET", f"http://{host}/eureka/apps", headers=JSON, body=None)
    doc = orjson.loads(reply.body)["applications"]
    return {i["instanceId"] for app in doc["application"] for i in app["instance"]}


async def test_what_a_client_does_at_one_registry_the_other_learns(tmp_path: Path) -> None:
    wire = Wire()
    async with (
        registry(wire, "a", B, tmp_path) as a,
        registry(wire, "b", A, tmp_path) as b,
    ):
        client = RegistryDiscovery(A, transport=wire, background=False)
        await client.start(catalog(1))
        await settle(a, b)
        assert "catalog-1" in await ids(wire, "b")
        # An override set at b reaches a, and so does the cancel at a's end.
        reply = await wire.send(
            "PUT",
            f"{B}/apps/CATALOG/catalog-1/status?value=OUT_OF_SERVICE",
            headers={},
            body=None,
        )
        assert reply.status == 200
        await settle(a, b)
        assert a.state.registry.find("catalog-1").effective_status == "OUT_OF_SERVICE"
        wire.seen.clear()
        await client.stop()
        await settle(a, b)
        # What a peer replicated is applied, never bounced back: the client's cancel at
        # a went on to b, and b sent nothing back to a.
        assert wire.replicated_to("a") == [("DELETE", "/eureka/apps/CATALOG/catalog-1")]
        assert wire.replicated_to("b") == [("DELETE", "/eureka/apps/CATALOG/catalog-1")]
        assert "catalog-1" not in await ids(wire, "b")


async def test_heartbeats_replicate_so_the_peer_keeps_the_lease(tmp_path: Path) -> None:
    wire = Wire()
    async with (
        registry(wire, "a", B, tmp_path) as a,
        registry(wire, "b", A, tmp_path) as b,
    ):
        client = RegistryDiscovery(A, transport=wire, background=False)
        await client.start(catalog(1))
        await settle(a, b)
        before = b.state.registry.find("catalog-1").lease.renewed_at
        await asyncio.sleep(0.01)
        assert await client.renew()
        await settle(a, b)
        assert b.state.registry.find("catalog-1").lease.renewed_at > before
        await client.stop()


async def test_each_registry_lists_the_other(tmp_path: Path) -> None:
    wire = Wire()
    async with (
        registry(wire, "a", B, tmp_path) as a,
        registry(wire, "b", A, tmp_path) as b,
    ):
        # Each one's own record went to the other: a's, sent before b was up, through
        # b's start-up sync (or a's catch-up once b answered); b's by replication.
        await settle(a, b)
        for app in (a, b):
            assert {r.instance_id for r in app.state.registry.records()} == {
                "registry-a",
                "registry-b",
            }
        assert a.state.registry.find("registry-a").pinned
        assert not b.state.registry.find("registry-a").pinned


async def test_a_registry_that_starts_late_syncs_from_its_peer(tmp_path: Path) -> None:
    wire = Wire()
    async with registry(wire, "a", B, tmp_path) as a:
        client = RegistryDiscovery(A, transport=wire, background=False)
        await client.start(catalog(1))
        body = orjson.dumps(eureka_registration(catalog(2)))
        await wire.send("POST", f"{A}/apps/CATALOG", headers={}, body=body)
        async with registry(wire, "b", A, tmp_path) as b:
            # b's first answer to a client already holds what a held.
            assert {"catalog-1", "catalog-2"} <= await ids(wire, "b")
            syncs = b.state.metrics.registry.get_sample_value(
                "matinee_registry_peer_syncs_total", {"result": "ok"}
            )
            assert syncs == 1
            await settle(a, b)
        await client.stop()


async def test_client_reads_wait_for_the_sync_but_a_peers_do_not(tmp_path: Path) -> None:
    wire = Wire()
    wire.hung["b"] = asyncio.Event()  # b takes its time to answer a's sync
    async with registry(wire, "b", A, tmp_path, wait=False):
        b_client = wire.apps["b"]
        async with registry(wire, "a", B, tmp_path, wait=False) as a:
            a_client = wire.apps["a"]
            read = asyncio.create_task(a_client.get("/eureka/apps", headers=JSON))
            await asyncio.sleep(0.05)
            assert not read.done()  # a client's read waits for the sync
            assert (await a_client.get("/healthz")).status_code == 200
            peer_read = await a_client.get(
                "/eureka/apps", headers={**JSON, "x-netflix-discovery-replication": "true"}
            )
            assert peer_read.status_code == 200  # a peer's never does
            registered = await a_client.post(
                "/eureka/apps/CATALOG", json=eureka_registration(catalog(3))
            )
            assert registered.status_code == 204  # nor does a write
            wire.hung.pop("b").set()
            reply = await asyncio.wait_for(read, 5)
            assert reply.status_code == 200
            status = (await a_client.get("/eureka/status")).json()
            assert status["synced"] is True
            assert status["peers"] == [{"url": B, "up": True, "queued": 0}]
            await settle(a)
            assert (await b_client.get("/eureka/apps/CATALOG/catalog-3")).status_code == 200


async def test_with_no_peer_answering_the_snapshot_serves_at_once(tmp_path: Path) -> None:
    wire = Wire()
    snapshot = tmp_path / "a" / "services" / "registry" / "leases-registry-a.json"
    snapshot.parent.mkdir(parents=True)
    entry = {"app": "CATALOG", "instance_id": "catalog-7", "host_name": "h", "port": 1}
    snapshot.write_bytes(orjson.dumps({"format": 1, "leases": [entry]}))
    async with registry(wire, "a", B, tmp_path) as a:
        assert "catalog-7" in await ids(wire, "a")
        assert a.state.registry.find("catalog-7") is not None


async def test_a_hung_peer_does_not_slow_the_clients_call(tmp_path: Path) -> None:
    wire = Wire()
    async with registry(wire, "a", B, tmp_path) as a:
        wire.hung["b"] = asyncio.Event()  # b stops answering
        client = wire.apps["a"]
        for n in range(5):
            reply = await asyncio.wait_for(
                client.post("/eureka/apps/CATALOG", json=eureka_registration(catalog(n))), 1.0
            )
            assert reply.status_code == 204
        assert a.state.replicator.describe()[0]["queued"] >= 4
        wire.hung.pop("b").set()


async def test_peers_on_one_data_dir_keep_a_snapshot_each(tmp_path: Path) -> None:
    wire = Wire()
    async with (
        registry(wire, "a", B, tmp_path, shared=True) as a,
        registry(wire, "b", A, tmp_path, shared=True) as b,
    ):
        body = orjson.dumps(eureka_registration(catalog(1)))
        await wire.send("POST", f"{A}/apps/CATALOG", headers={}, body=body)
        await settle(a, b)
    folder = tmp_path / "services" / "registry"
    assert sorted(p.name for p in folder.iterdir()) == [
        "leases-registry-a.json",
        "leases-registry-b.json",
    ]
    for name in ("leases-registry-a.json", "leases-registry-b.json"):
        leases = orjson.loads((folder / name).read_bytes())["leases"]
        assert "catalog-1" in {entry["instance_id"] for entry in leases}
