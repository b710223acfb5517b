"""The registry's Eureka API, in-process, with a fake clock driving leases."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from matinee.platform.discovery import (
    Instance,
    RegistryDiscovery,
    Status,
    eureka_registration,
)
from matinee.platform.http import HttpPool, Response
from matinee.services.registry.app import create_app
from matinee.services.registry.client import RegistryClient, RegistryUnavailable
from matinee.services.registry.settings import RegistrySettings
from matinee.services.registry.storage import SnapshotStore
from tests.contract.conftest import serve
from tests.fakes_registry import RegistryTransport

JSON = {"Accept": "application/json"}
CONTENT_JSON = {"Content-Type": "application/json"}


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class AsgiTransport(RegistryTransport):
    """RegistryDiscovery's transport over the app in-process (no sockets)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__()
        self.client = client

    async def answer(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Response:
        resp = await self.client.request(method, url, content=body, headers=dict(headers))
        return Response(resp.status_code, resp.headers, resp.content)


class Harness:
    def __init__(self, app: Any, client: httpx.AsyncClient, clock: FakeClock) -> None:
        self.app = app
        self.client = client
        self.clock = clock

    @property
    def registry(self) -> Any:
        return self.app.state.registry

    def evict(self) -> list[Any]:
        return list(self.app.state.evict_once())

    async def register(self, instance: Instance, **kw: float) -> httpx.Response:
        body = eureka_registration(instance, **kw)
        return await self.client.post(f"/eureka/apps/{instance.service.upper()}", json=body)

    async def apps(self) -> dict[str, Any]:
        resp = await self.client.get("/eureka/apps", headers=JSON)
        assert resp.status_code == 200
        return dict(resp.json()["applications"])

    async def ids(self) -> set[str]:
        apps = await self.apps()
        return {i["instanceId"] for app in apps["application"] for i in app["instance"]}


def catalog(n: int = 1, port: int = 9001) -> Instance:
    return Instance("catalog", f"catalog-{n}", "127.0.0.1", port + n, version="1.2.3", zone="z1")


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(tmp_path) as h:
        yield h


def settings_for(tmp_path: Path, **kw: Any) -> RegistrySettings:
    return RegistrySettings(**{"data_dir": tmp_path, "port": 0, **kw})


class running:
    def __init__(self, tmp_path: Path, clock: FakeClock | None = None, **kw: Any) -> None:
        self.clock = clock or FakeClock()
        self.app = create_app(settings_for(tmp_path, **kw), clock=self.clock, background=False)

    async def __aenter__(self) -> Harness:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://registry")
        return Harness(self.app, self._client, self.clock)

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)


async def test_registered_instance_appears_in_eureka_json_shape(harness: Harness) -> None:
    resp = await harness.register(catalog(1))
    assert resp.status_code == 204
    apps = await harness.apps()
    assert apps["apps__hashcode"] == "UP_1_"
    assert int(apps["versions__delta"]) >= 1
    [app] = apps["application"]
    assert app["name"] == "CATALOG"
    [inst] = app["instance"]
    assert inst["instanceId"] == "catalog-1"
    assert inst["hostName"] == "127.0.0.1"
    assert inst["status"] == "UP"
    assert inst["port"] == {"$": 9002, "@enabled": "true"}
    assert inst["metadata"]["version"] == "1.2.3"
    assert inst["leaseInfo"]["durationInSecs"] == 90
    assert inst["dataCenterInfo"]["name"] == "MyOwn"


async def test_default_format_is_eureka_xml(harness: Harness) -> None:
    await harness.register(catalog(1))
    resp = await harness.client.get("/eureka/apps")
    assert resp.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(resp.content)
    assert root.tag == "applications"
    inst = root.find("application/instance")
    assert inst is not None
    assert inst.findtext("hostName") == "127.0.0.1"
    port = inst.find("port")
    assert port is not None and port.text == "9002" and port.get("enabled") == "true"
    assert inst.findtext("metadata/version") == "1.2.3"


async def test_xml_registration_is_accepted(harness: Harness) -> None:
    body = (
        "<instance><instanceId>legacy-1</instanceId><hostName>10.0.0.5</hostName>"
        "<app>LEGACY</app><ipAddr>10.0.0.5</ipAddr><status>UP</status>"
        '<port enabled="true">8080</port>'
        '<dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo">'
        "<name>MyOwn</name></dataCenterInfo><metadata><team>billing</team></metadata>"
        "</instance>"
    )
    resp = await harness.client.post(
        "/eureka/apps/LEGACY", content=body, headers={"Content-Type": "application/xml"}
    )
    assert resp.status_code == 204, resp.text
    one = await harness.client.get("/eureka/apps/legacy/legacy-1", headers=JSON)
    assert one.json()["instance"]["metadata"] == {"team": "billing"}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"{}", "application/json"),
        (b'{"instance": {"hostName": "h"}}', "application/json"),
        (b'{"instance": {"hostName": "h", "port": "eighty"}}', "application/json"),
        (b'{"instance": {"hostName": "h", "port": 70000}}', "application/json"),
        (b'{"instance": {"hostName": "h", "port": 80, "status": "SLEEPY"}}', "application/json"),
        (b'{"instance": {"hostName": "h", "port": 80, "app": "OTHER"}}', "application/json"),
        (
            b'{"instance": {"hostName": "h", "port": 80, "metadata": {"a b": 1}}}',
            "application/json",
        ),
        (b"<instance><hostName>h</hostName>", "application/xml"),
        (b"", "application/json"),
    ],
)
async def test_malformed_registration_gets_400_problem(
    harness: Harness, body: bytes, content_type: str
) -> None:
    resp = await harness.client.post(
        "/eureka/apps/CATALOG", content=body, headers={"Content-Type": content_type}
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/problem+json"
    problem = resp.json()
    assert problem["status"] == 400 and problem["detail"]
    assert await harness.ids() == set()


async def test_oversized_registration_is_refused(harness: Harness) -> None:
    body = {"instance": {"hostName": "h", "port": 80, "vipAddress": "x" * 70_000}}
    resp = await harness.client.post("/eureka/apps/CATALOG", json=body)
    assert resp.status_code == 413


async def test_renew_of_unknown_instance_is_404_so_client_reregisters(harness: Harness) -> None:
    resp = await harness.client.put("/eureka/apps/CATALOG/nobody")
    assert resp.status_code == 404
    await harness.register(catalog(1))
    assert (await harness.client.put("/eureka/apps/CATALOG/catalog-1")).status_code == 200


async def test_cancel_removes_instance(harness: Harness) -> None:
    await harness.register(catalog(1))
    await harness.register(catalog(2))
    assert (await harness.client.delete("/eureka/apps/catalog/catalog-1")).status_code == 200
    assert await harness.ids() == {"catalog-2"}
    assert (await harness.client.delete("/eureka/apps/catalog/catalog-1")).status_code == 404


async def test_silent_instance_is_evicted_after_lease_but_renewed_one_stays(
    harness: Harness,
) -> None:
    for n in range(1, 11):
        await harness.register(catalog(n))
    # Nine keep heartbeating every 30 s; catalog-1 falls silent.
    for _ in range(3):
        harness.clock.advance(30)
        for n in range(2, 11):
            assert (
                await harness.client.put(f"/eureka/apps/CATALOG/catalog-{n}")
            ).status_code == 200
        harness.evict()
    assert "catalog-1" in await harness.ids()  # 90 s exactly: not yet
    harness.clock.advance(5)
    evicted = harness.evict()
    assert [r.instance_id for r in evicted] == ["catalog-1"]
    assert await harness.ids() == {f"catalog-{n}" for n in range(2, 11)}


async def test_lease_duration_is_configurable(tmp_path: Path) -> None:
    async with running(tmp_path, registry_lease_duration=10.0) as h:
        instance = catalog(1)
        body = eureka_registration(instance)
        del body["instance"]["leaseInfo"]  # a client that names no duration gets the setting
        await h.client.post("/eureka/apps/CATALOG", json=body)
        h.clock.advance(11)
        assert [r.instance_id for r in h.evict()] == ["catalog-1"]


async def test_self_preservation_holds_mass_expiry_but_only_within_bound(
    harness: Harness,
) -> None:
    for n in range(1, 11):
        await harness.register(catalog(n))
    for _ in range(4):  # a healthy minute and more
        harness.clock.advance(30)
        for n in range(1, 11):
            await harness.client.put(f"/eureka/apps/CATALOG/catalog-{n}")
    # Now every heartbeat stops at once (the registry's network, or a mass death).
    harness.clock.advance(100)
    assert harness.evict() == []
    status = (await harness.client.get("/eureka/status")).json()
    assert status["self_preservation"]["engaged"] is True
    metrics = (await harness.client.get("/metrics")).text
    assert "matinee_registry_self_preservation 1.0" in metrics
    # The bound: after 3 lease durations of silence they go anyway.
    harness.clock.advance(3 * 90)
    assert len(harness.evict()) == 10
    assert await harness.ids() == set()


async def test_status_override_hides_instance_until_cleared(harness: Harness) -> None:
    await harness.register(catalog(1))
    resp = await harness.client.put("/eureka/apps/CATALOG/catalog-1/status?value=OUT_OF_SERVICE")
    assert resp.status_code == 200
    one = (await harness.client.get("/eureka/apps/CATALOG/catalog-1", headers=JSON)).json()
    assert one["instance"]["status"] == "OUT_OF_SERVICE"
    assert one["instance"]["overriddenStatus"] == "OUT_OF_SERVICE"
    # The override survives the instance re-registering as UP.
    await harness.register(catalog(1))
    assert (await harness.apps())["apps__hashcode"] == "OUT_OF_SERVICE_1_"
    assert (await harness.client.delete("/eureka/apps/CATALOG/catalog-1/status")).status_code == 200
    assert (await harness.apps())["apps__hashcode"] == "UP_1_"


async def test_bad_status_override_is_400_and_unknown_instance_404(harness: Harness) -> None:
    await harness.register(catalog(1))
    resp = await harness.client.put("/eureka/apps/CATALOG/catalog-1/status?value=NAPPING")
    assert resp.status_code == 400
    resp = await harness.client.put("/eureka/apps/CATALOG/ghost/status?value=DOWN")
    assert resp.status_code == 404


async def test_etag_gives_304_until_registry_changes(harness: Harness) -> None:
    await harness.register(catalog(1))
    first = await harness.client.get("/eureka/apps", headers=JSON)
    etag = first.headers["etag"]
    again = await harness.client.get("/eureka/apps", headers={**JSON, "If-None-Match": etag})
    assert again.status_code == 304
    await harness.client.put("/eureka/apps/CATALOG/catalog-1")  # a heartbeat changes nothing
    again = await harness.client.get("/eureka/apps", headers={**JSON, "If-None-Match": etag})
    assert again.status_code == 304
    await harness.register(catalog(2))
    changed = await harness.client.get("/eureka/apps", headers={**JSON, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_delta_reports_recent_changes_with_actions(harness: Harness) -> None:
    await harness.register(catalog(1))
    await harness.register(catalog(2))
    harness.clock.advance(200)  # past the 180 s retention window
    for n in (1, 2):
        await harness.client.put(f"/eureka/apps/CATALOG/catalog-{n}")
    await harness.register(catalog(3))
    await harness.client.delete("/eureka/apps/CATALOG/catalog-1")
    await harness.client.put("/eureka/apps/CATALOG/catalog-2/status?value=DOWN")
    resp = await harness.client.get("/eureka/apps/delta", headers=JSON)
    doc = resp.json()["applications"]
    actions = {i["instanceId"]: i["actionType"] for a in doc["application"] for i in a["instance"]}
    assert actions == {"catalog-3": "ADDED", "catalog-1": "DELETED", "catalog-2": "MODIFIED"}
    assert doc["apps__hashcode"] == "DOWN_1_UP_1_"


async def test_snapshot_reload_keeps_fleet_with_fresh_grace(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running(tmp_path, clock=clock) as h:
        await h.register(catalog(1))
        await h.register(catalog(2))
        await h.client.put("/eureka/apps/CATALOG/catalog-2/status?value=OUT_OF_SERVICE")
    assert (tmp_path / "services" / "registry" / "leases.json").exists()
    clock.advance(600)  # the registry was down for ten minutes
    async with running(tmp_path, clock=clock) as h:
        assert await h.ids() == {"catalog-1", "catalog-2"}
        assert (await h.apps())["apps__hashcode"] == "OUT_OF_SERVICE_1_UP_1_"
        assert h.evict() == []  # a fresh grace period, not an instant mass eviction


async def test_corrupt_snapshot_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "services" / "registry" / "leases.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage")
    assert SnapshotStore(path).load() == []
    async with running(tmp_path) as h:
        assert await h.ids() == set()


async def test_registry_registers_itself(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path, port=8761, instance_id="registry-1"), background=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            doc = (await client.get("/eureka/apps/REGISTRY", headers=JSON)).json()
            [inst] = doc["application"]["instance"]
            assert inst["instanceId"] == "registry-1"
            assert inst["port"]["$"] == 8761
            assert app.state.discovery.instances("registry")[0].port == 8761


async def test_discovery_client_resolves_and_follows_changes(harness: Harness) -> None:
    transport = AsgiTransport(harness.client)
    own = catalog(1)
    d = RegistryDiscovery("http://registry/eureka", transport=transport, background=False)
    await d.start(own)
    assert d.registered
    await d.refresh()
    assert [i.instance_id for i in d.instances("catalog")] == ["catalog-1"]
    assert d.instances("CATALOG")[0].version == "1.2.3"
    # Another instance arrives, one is taken out of service: the next refresh (a delta) sees it.
    await harness.register(catalog(2))
    await harness.client.put("/eureka/apps/CATALOG/catalog-1/status?value=OUT_OF_SERVICE")
    assert await d.fetch_delta()
    assert [i.instance_id for i in d.instances("catalog")] == ["catalog-2"]
    # The registry goes away: resolution keeps the last copy.
    transport.down = True
    assert not await d.refresh()
    assert [i.instance_id for i in d.instances("catalog")] == ["catalog-2"]
    transport.down = False
    await d.stop()
    assert "catalog-1" not in await harness.ids()


async def test_discovery_client_reregisters_after_registry_forgets_it(harness: Harness) -> None:
    d = RegistryDiscovery(
        "http://registry/eureka", transport=AsgiTransport(harness.client), background=False
    )
    await d.start(catalog(1))
    await harness.client.delete("/eureka/apps/CATALOG/catalog-1")
    assert await d.renew()  # 404, then a fresh registration
    assert "catalog-1" in await harness.ids()
    await d.stop()


async def test_discovery_client_repairs_drift_with_a_full_fetch(harness: Harness) -> None:
    await harness.register(catalog(1))
    d = RegistryDiscovery(
        "http://registry/eureka", transport=AsgiTransport(harness.client), background=False
    )
    await d.start(None)
    await harness.register(catalog(2))
    harness.clock.advance(200)  # the change falls out of the delta window unseen
    assert await d.fetch_delta()  # empty delta, hashcode mismatch -> full fetch
    assert {i.instance_id for i in d.instances("catalog")} == {"catalog-1", "catalog-2"}
    await d.stop()


class NotingPool:
    """The real pool, noting the status of every answer."""

    def __init__(self, pool: HttpPool) -> None:
        self.pool = pool
        self.statuses: list[int] = []

    async def send(self, method: str, url: str, **kw: Any) -> Response:
        reply = await self.pool.send(method, url, **kw)
        self.statuses.append(reply.status)
        return reply


async def test_discovery_over_the_platform_pool_and_real_sockets(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path), background=False)
    async with HttpPool() as pool:
        noting = NotingPool(pool)
        async with serve(app) as port:
            url = f"http://127.0.0.1:{port}/eureka"
            d = RegistryDiscovery(url, transport=noting, background=False)
            await d.start(catalog(1))
            assert d.registered
            await d.fetch_full()
            assert [i.instance_id for i in d.instances("catalog")] == ["catalog-1"]
            # Unchanged since: the ETag the registry sent makes the next fetch a 304.
            await d.fetch_full()
            assert noting.statuses[-1] == 304
        # The registry is gone (its port refuses): the last copy keeps resolving.
        assert not await d.refresh()
        assert [i.instance_id for i in d.instances("catalog")] == ["catalog-1"]
        await d.stop()


async def test_a_registry_that_never_answers_is_only_unreachable() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/eureka"
        d = RegistryDiscovery(url, request_timeout=0.2, background=False)
        await d.start(catalog(1))
        assert not d.registered
        assert not await d.refresh()
        await d.stop()


async def test_admin_client_lists_and_overrides_over_real_sockets(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path), background=False)
    async with serve(app) as port:
        admin = RegistryClient(f"http://127.0.0.1:{port}/eureka")
        async with HttpPool() as pool:
            body = orjson.dumps(eureka_registration(catalog(1)))
            url = f"http://127.0.0.1:{port}/eureka/apps/CATALOG"
            await pool.send("POST", url, headers=CONTENT_JSON, body=body, timeout=2.0)
        assert "catalog-1" in [i.instance_id for i in await admin.instances()]
        assert await admin.set_status("catalog", "catalog-1", Status.OUT_OF_SERVICE)
        assert not await admin.set_status("catalog", "nobody", Status.OUT_OF_SERVICE)
        [found] = [i for i in await admin.instances() if i.instance_id == "catalog-1"]
        assert found.status is Status.OUT_OF_SERVICE
    with pytest.raises(RegistryUnavailable):
        await admin.instances()
