"""RegistryDiscovery against a scripted registry: no sockets, no timing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from matinee.platform.discovery import (
    Failover,
    Instance,
    RegistryDiscovery,
    StaticDiscovery,
    Status,
    apps_hashcode,
    eureka_registration,
    parse_applications,
    split_registry_urls,
)
from matinee.platform.http import Response
from tests.fakes_registry import RegistryTransport


def doc(instances: list[Instance], actions: dict[str, str] | None = None) -> dict[str, Any]:
    apps: dict[str, list[dict[str, Any]]] = {}
    for inst in instances:
        body = eureka_registration(inst)["instance"]
        body["actionType"] = (actions or {}).get(inst.instance_id, "ADDED")
        apps.setdefault(inst.service.upper(), []).append(body)
    return {
        "applications": {
            "versions__delta": "1",
            "apps__hashcode": apps_hashcode(instances),
            "application": [{"name": k, "instance": v} for k, v in apps.items()],
        }
    }


class ScriptedRegistry(RegistryTransport):
    """Answers like the registry would; records what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.full: list[Instance] = []
        self.delta: dict[str, Any] = doc([])
        self.known: set[str] = set()
        self.full_documents_sent = 0

    async def answer(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Response:
        path = url.split("/eureka", 1)[1]
        if method == "POST":
            self.known.add(orjson.loads(body or b"{}")["instance"]["instanceId"])
            return Response(204)
        if method == "PUT":
            return Response(200 if path.rsplit("/", 1)[1] in self.known else 404)
        if method == "DELETE":
            self.known.discard(path.rsplit("/", 1)[1])
            return Response(200)
        if path == "/apps/delta":
            return Response(200, {}, orjson.dumps(self.delta))
        # Spelled as the registry spells it: discovery must find it whatever the case.
        etag = f'"{len(self.full)}"'
        if headers.get("If-None-Match") == etag:
            return Response(304, {"ETag": etag})
        self.full_documents_sent += 1
        return Response(200, {"ETag": etag}, orjson.dumps(doc(self.full)))


def inst(n: int, service: str = "catalog", status: Status = Status.UP) -> Instance:
    return Instance(service, f"{service}-{n}", "127.0.0.1", 9000 + n, status=status)


def client(registry: ScriptedRegistry) -> RegistryDiscovery:
    return RegistryDiscovery("http://r:8761/eureka/", transport=registry, background=False)


async def test_start_never_fails_when_registry_is_down() -> None:
    registry = ScriptedRegistry()
    registry.down = True
    d = client(registry)
    await d.start(inst(1))
    assert not d.registered
    assert d.instances("catalog") == ()
    registry.down = False
    assert await d.register()
    await d.stop()


async def test_resolves_only_up_instances_case_insensitively() -> None:
    registry = ScriptedRegistry()
    registry.full = [inst(1), inst(2, status=Status.OUT_OF_SERVICE), inst(3, "search")]
    d = client(registry)
    await d.start(None)
    assert [i.instance_id for i in d.instances("catalog")] == ["catalog-1"]
    assert [i.instance_id for i in d.instances("SEARCH")] == ["search-3"]
    assert d.instances("nothing") == ()


async def test_keeps_last_copy_while_registry_is_down() -> None:
    registry = ScriptedRegistry()
    registry.full = [inst(1)]
    d = client(registry)
    await d.start(None)
    registry.down = True
    assert not await d.refresh()
    assert not await d.fetch_full()
    assert [i.instance_id for i in d.instances("catalog")] == ["catalog-1"]


async def test_a_registry_that_times_out_is_unreachable_not_fatal() -> None:
    registry = ScriptedRegistry()
    registry.full = [inst(1)]
    d = client(registry)
    await d.start(inst(2))
    registry.down, registry.failure = True, TimeoutError()
    assert not await d.refresh()
    assert not await d.renew()
    assert [i.instance_id for i in d.instances("catalog")] == ["catalog-1"]
    await d.stop()


async def test_full_fetch_sends_etag_and_accepts_304() -> None:
    registry = ScriptedRegistry()
    registry.full = [inst(1)]
    d = client(registry)
    await d.start(None)
    assert await d.fetch_full()
    assert registry.full_documents_sent == 1  # the second fetch cost a 304
    assert [i.instance_id for i in d.instances("catalog")] == ["catalog-1"]


async def test_delta_applies_added_modified_deleted() -> None:
    registry = ScriptedRegistry()
    registry.full = [inst(1), inst(2)]
    d = client(registry)
    await d.start(None)
    now = [inst(2, status=Status.DOWN), inst(3)]
    changes = doc([inst(1), *now], {"catalog-1": "DELETED", "catalog-2": "MODIFIED"})
    changes["applications"]["apps__hashcode"] = apps_hashcode(now)
    registry.delta = changes
    calls = len(registry.calls)
    assert await d.fetch_delta()
    assert [i.instance_id for i in d.instances("catalog")] == ["catalog-3"]
    assert registry.calls[calls:] == [("GET", "http://r:8761/eureka/apps/delta")]


async def test_hash_mismatch_falls_back_to_full_fetch() -> None:
    registry = ScriptedRegistry()
    registry.full = [inst(1)]
    d = client(registry)
    await d.start(None)
    registry.full = [inst(1), inst(2)]
    registry.delta = doc([])
    registry.delta["applications"]["apps__hashcode"] = "UP_2_"
    assert await d.fetch_delta()
    assert len(d.instances("catalog")) == 2


async def test_heartbeat_on_forgotten_instance_reregisters() -> None:
    registry = ScriptedRegistry()
    d = client(registry)
    await d.start(inst(1))
    registry.known.clear()  # the registry restarted without a snapshot
    assert await d.renew()
    assert "catalog-1" in registry.known
    await d.stop()
    assert "catalog-1" not in registry.known


def test_registration_round_trips_through_eureka_documents() -> None:
    original = Instance(
        "catalog", "c-1", "10.1.2.3", 8080, version="2.0", region="r", zone="z",
        metadata={"canary": "true"},
    )  # fmt: skip
    [(action, back)] = parse_applications(doc([original]))
    assert action == "ADDED"
    assert back == original


def test_static_discovery() -> None:
    d = StaticDiscovery([inst(1), inst(2, status=Status.DOWN)])
    assert [i.instance_id for i in d.instances("CATALOG")] == ["catalog-1"]


# --- several registries: failover and failback -------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Peers:
    """Two scripted registries behind one transport, told apart by host."""

    def __init__(self) -> None:
        self.a, self.b = ScriptedRegistry(), ScriptedRegistry()
        self.calls: list[str] = []

    async def send(self, method: str, url: str, **kw: Any) -> Response:
        host = url.split("//", 1)[1].split("/", 1)[0]
        self.calls.append(host)
        return await (self.a if host == "a:8761" else self.b).send(method, url, **kw)


def two_registries(peers: Peers, clock: Clock) -> RegistryDiscovery:
    return RegistryDiscovery(
        "http://a:8761/eureka, http://b:8762/eureka/",
        transport=peers,
        background=False,
        clock=clock,
        failback_after=30.0,
    )


def test_registry_urls_are_split_like_eurekas_default_zone() -> None:
    assert split_registry_urls(" http://a/eureka/ ,http://b/eureka,,http://a/eureka") == (
        "http://a/eureka",
        "http://b/eureka",
    )
    d = RegistryDiscovery("http://a/eureka,http://b/eureka", background=False)
    assert d.registry_urls == ("http://a/eureka", "http://b/eureka")
    assert d.registry_url == "http://a/eureka"


async def test_a_dead_first_registry_fails_over_to_the_next() -> None:
    peers, clock = Peers(), Clock()
    peers.b.full = [inst(7)]
    peers.a.down = True
    d = two_registries(peers, clock)
    await d.start(inst(1))
    assert d.registered and "catalog-1" in peers.b.known
    assert [i.instance_id for i in d.instances("catalog")] == ["catalog-7"]
    assert d.registry_url == "http://b:8762/eureka"
    # Once moved, calls go to b directly: a dead a costs nothing per call.
    peers.calls.clear()
    assert await d.renew()
    assert await d.refresh()
    assert peers.calls == ["b:8762", "b:8762"]


async def test_a_registry_that_times_out_fails_over_too() -> None:
    peers, clock = Peers(), Clock()
    peers.a.full = [inst(1)]
    peers.b.full = [inst(1), inst(2)]
    d = two_registries(peers, clock)
    await d.start(None)
    assert len(d.instances("catalog")) == 1
    peers.a.down, peers.a.failure = True, TimeoutError()
    assert await d.refresh()
    # The move fetched b's whole registry: a's delta log is not b's.
    assert len(d.instances("catalog")) == 2
    assert ("GET", "http://b:8762/eureka/apps") in peers.b.calls


async def test_the_first_registry_is_tried_again_after_failback_after() -> None:
    peers, clock = Peers(), Clock()
    peers.a.down = True
    d = two_registries(peers, clock)
    await d.start(inst(1))
    assert d.registry_url == "http://b:8762/eureka"
    peers.a.down = False
    clock.now += 10
    await d.renew()
    assert d.registry_url == "http://b:8762/eureka"  # not yet
    clock.now += 25
    await d.renew()  # a does not know us yet (404): the client registers with it
    assert d.registry_url == "http://a:8761/eureka"
    assert "catalog-1" in peers.a.known


async def test_a_first_registry_still_down_at_failback_is_left_for_another_interval() -> None:
    peers, clock = Peers(), Clock()
    peers.a.down = True
    d = two_registries(peers, clock)
    await d.start(inst(1))
    clock.now += 31
    peers.calls.clear()
    assert await d.renew()
    assert peers.calls == ["a:8761", "b:8762"]  # one look at a, then b
    peers.calls.clear()
    assert await d.renew()
    assert peers.calls == ["b:8762"]


async def test_when_no_registry_answers_the_copy_stays() -> None:
    peers, clock = Peers(), Clock()
    peers.a.full = [inst(1)]
    d = two_registries(peers, clock)
    await d.start(None)
    peers.a.down = peers.b.down = True
    assert not await d.refresh()
    assert [i.instance_id for i in d.instances("catalog")] == ["catalog-1"]


def test_failover_order() -> None:
    clock = Clock()
    f = Failover(("a", "b", "c"), failback_after=5.0, clock=clock)
    assert f.order() == [0, 1, 2]
    assert f.answered(2) and f.current == "c"
    assert f.order() == [2, 0, 1]
    clock.now += 5
    assert f.order() == [0, 2, 1]  # failback: the first one again
    assert f.order() == [2, 0, 1]  # and not again until another interval passed
    assert f.answered(0) and not f.answered(0)
