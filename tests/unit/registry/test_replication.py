"""Replication to peers, with a scripted network: what is sent, retried, skipped and repaired."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from matinee.platform.discovery import Status
from matinee.platform.http import Response, TransportError
from matinee.platform.telemetry.metrics import Metrics
from matinee.services.registry.api.schemas import parse_registration
from matinee.services.registry.domain import InstanceRecord, Registry
from matinee.services.registry.replication import Replicator

A, B = "http://a:8761/eureka", "http://b:8762/eureka"


class Network:
    """Peers as a transport: each host answers by a script, or is down."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str], bytes | None]] = []
        self.down: set[str] = set()
        self.answer: Callable[[str, str], int] = lambda method, url: 200
        self.gate: asyncio.Event | None = None  # set: calls wait for it (a hung peer)

    async def send(self, method: str, url: str, **kw: Any) -> Response:
        if self.gate is not None:
            await self.gate.wait()
        host = url.split("//", 1)[1].split("/", 1)[0]
        if host in self.down:
            raise TransportError(f"{host}: connection refused")
        self.sent.append((method, url, dict(kw["headers"]), kw["body"]))
        return Response(self.answer(method, url))

    def to(self, host: str) -> list[tuple[str, str]]:
        return [(m, u.split("/eureka", 1)[1]) for m, u, _, _ in self.sent if f"//{host}/" in u]


def record(n: int, **kw: Any) -> InstanceRecord:
    return InstanceRecord(
        app="CATALOG", instance_id=f"catalog-{n}", host_name="h", ip_addr="h", port=9000 + n, **kw
    )


class Rig:
    def __init__(self, net: Network, registry: Registry, replicator: Replicator, metrics: Metrics):
        self.net = net
        self.registry = registry
        self.replicator = replicator
        self.metrics = metrics

    async def settle(self) -> None:
        for _ in range(3):  # a reply may queue a follow-up (a 404 heartbeat, a recovery)
            for peer in self.replicator.peers:
                await asyncio.wait_for(peer.idle(), 5)
            await asyncio.sleep(0)

    def counted(self, peer: str, action: str, result: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "matinee_registry_replications_total",
            {"peer": peer, "action": action, "result": result},
        )
        return value or 0.0


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    net = Network()
    registry = Registry(clock=lambda: 1_700_000_000.0)
    metrics = Metrics()
    replicator = Replicator(
        [A, B],
        registry,
        transport=net,
        metrics=metrics,
        retries=2,
        retry_pause=0.0,
        retry_interval=0.01,
        queue_size=100,
    )
    replicator.start()
    try:
        yield Rig(net, registry, replicator, metrics)
    finally:
        await replicator.stop(flush=0.1)


async def test_every_client_write_reaches_every_peer_marked_as_replicated(rig: Rig) -> None:
    stored = rig.registry.register(record(1, status=Status.STARTING), duration=45.0)
    rig.registry.set_override("catalog", "catalog-1", Status.OUT_OF_SERVICE)
    rig.replicator.register(stored)
    rig.replicator.renew("CATALOG", "catalog-1")
    rig.replicator.set_status("CATALOG", "catalog-1", Status.OUT_OF_SERVICE)
    rig.replicator.clear_status("CATALOG", "catalog-1", Status.UP)
    rig.replicator.cancel("CATALOG", "catalog-1")
    await rig.settle()
    expected = [
        ("POST", "/apps/CATALOG"),
        ("PUT", "/apps/CATALOG/catalog-1"),
        ("PUT", "/apps/CATALOG/catalog-1/status?value=OUT_OF_SERVICE"),
        ("DELETE", "/apps/CATALOG/catalog-1/status?value=UP"),
        ("DELETE", "/apps/CATALOG/catalog-1"),
    ]
    assert rig.net.to("a:8761") == expected  # in the order the client's calls came
    assert rig.net.to("b:8762") == expected
    assert all(h["x-netflix-discovery-replication"] == "true" for _, _, h, _ in rig.net.sent)
    # The registration carries the reported status, the override and the lease as they are.
    body = rig.net.sent[0][3]
    assert body is not None
    copy = parse_registration(body, "application/json", "CATALOG")
    assert copy.status is Status.STARTING
    assert copy.overridden_status is Status.OUT_OF_SERVICE
    assert copy.lease.duration == 45.0
    assert int(copy.last_dirty * 1000) == int(rig.registry.find("catalog-1").last_dirty * 1000)  # type: ignore[union-attr]
    assert rig.counted(A, "register", "ok") == 1


async def test_a_hung_peer_never_holds_up_the_caller() -> None:
    net = Network()
    net.gate = asyncio.Event()  # every call hangs until released
    registry = Registry(clock=lambda: 1.0)
    metrics = Metrics()
    replicator = Replicator([A], registry, transport=net, metrics=metrics, queue_size=2)
    replicator.start()
    stored = registry.register(record(1))
    replicator.register(stored)
    await asyncio.sleep(0.01)  # the worker took it and hangs on the peer
    for _ in range(10):
        replicator.register(stored)  # returns at once; beyond the queue, calls are dropped
    assert replicator.describe() == [{"url": A, "up": True, "queued": 2}]
    dropped = metrics.registry.get_sample_value(
        "matinee_registry_replications_total",
        {"peer": A, "action": "register", "result": "dropped"},
    )
    assert dropped == 8
    net.gate.set()
    await replicator.stop(flush=1.0)
    assert len(net.sent) == 3  # the one in flight and the two queued


async def test_a_failing_peer_is_retried_then_skipped_until_it_answers(rig: Rig) -> None:
    rig.net.down.add("a:8761")
    one = rig.registry.register(record(1))
    rig.replicator.register(one)
    await rig.settle()
    assert rig.counted(A, "register", "retried") == 2
    assert rig.counted(A, "register", "failed") == 1
    assert [p["up"] for p in rig.replicator.describe()] == [False, True]
    assert rig.metrics.registry.get_sample_value("matinee_registry_peer_up", {"peer": A}) == 0
    # While a is down nothing more is sent to it (b, up, gets everything).
    two = rig.registry.register(record(2))
    rig.replicator.register(two)
    rig.replicator.cancel("CATALOG", "catalog-1")
    rig.registry.cancel("CATALOG", "catalog-1")
    await rig.settle()
    assert rig.counted(A, "register", "skipped") == 1
    assert rig.counted(A, "cancel", "skipped") == 1
    assert rig.net.to("b:8762")[-2:] == [
        ("POST", "/apps/CATALOG"),
        ("DELETE", "/apps/CATALOG/catalog-1"),
    ]
    # a answers again: it is sent the cancel it missed and every record held here.
    rig.net.down.clear()
    for _ in range(100):
        if rig.replicator.describe()[0]["up"]:
            break
        await asyncio.sleep(0.01)
    await rig.settle()
    assert rig.net.to("a:8761") == [
        ("GET", "/status"),
        ("DELETE", "/apps/CATALOG/catalog-1"),
        ("POST", "/apps/CATALOG"),
    ]
    assert orjson.loads(rig.net.sent[-1][3] or b"")["instance"]["instanceId"] == "catalog-2"


async def test_a_heartbeat_the_peer_does_not_know_is_followed_by_the_record(rig: Rig) -> None:
    rig.registry.register(record(1))
    rig.net.answer = lambda method, url: 404 if method == "PUT" else 204
    rig.replicator.renew("CATALOG", "catalog-1")
    rig.replicator.cancel("CATALOG", "catalog-9")  # already gone there: fine, no repair
    await rig.settle()
    assert rig.net.to("a:8761") == [
        ("PUT", "/apps/CATALOG/catalog-1"),
        ("DELETE", "/apps/CATALOG/catalog-9"),
        ("POST", "/apps/CATALOG"),
    ]
    assert rig.counted(A, "renew", "missing") == 1
    assert rig.counted(A, "cancel", "ok") == 1


async def test_a_registration_cancelled_before_it_went_out_sends_nothing(rig: Rig) -> None:
    one = rig.registry.register(record(1))
    rig.registry.cancel("CATALOG", "catalog-1")
    rig.replicator.register(one)
    await rig.settle()
    assert rig.net.to("a:8761") == []


async def test_the_start_up_sync_takes_the_first_peer_that_answers(rig: Rig) -> None:
    leases = [record(1).to_dict(), record(2).to_dict(), {"broken": True}]

    async def answer(method: str, url: str, **kw: Any) -> Response:
        if "//a:8761/" in url:
            raise TransportError("refused")
        return Response(200, {}, orjson.dumps({"leases": leases}))

    rig.net.send = answer  # type: ignore[method-assign]
    replicator = Replicator([A, B], rig.registry, transport=rig.net, metrics=rig.metrics)
    records = await replicator.sync()
    assert [r.instance_id for r in records or []] == ["catalog-1", "catalog-2"]
    alone = Replicator([A], rig.registry, transport=rig.net, metrics=rig.metrics)
    assert await alone.sync() is None
    samples = {
        result: rig.metrics.registry.get_sample_value(
            "matinee_registry_peer_syncs_total", {"result": result}
        )
        for result in ("ok", "no_peer")
    }
    assert samples == {"ok": 1, "no_peer": 1}
