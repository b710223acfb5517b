"""RegistryDiscovery against a scripted registry: no sockets, no timing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from matinee.platform.discovery import (
    Instance,
    RegistryDiscovery,
    StaticDiscovery,
    Status,
    apps_hashcode,
    eureka_registration,
    parse_applications,
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
