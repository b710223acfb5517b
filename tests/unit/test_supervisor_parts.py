"""The supervisor's parts: port choice, the data-dir lock, the registry's JSON, status rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from matinee.platform.service import ServiceSpec
from matinee.supervisor import (
    FleetLock,
    FleetLocked,
    FleetPaths,
    PortChoice,
    Registered,
    fetch_registered,
    fleet_rows,
    format_table,
    lock_holder,
    parse_apps,
    plan_fleet,
)

SPECS = [
    ServiceSpec("registry", default_instances=1, on_play_path=True, fixed_port=8761),
    ServiceSpec("catalog", default_instances=2),
    ServiceSpec("gateway", default_instances=1, on_play_path=True, fixed_port=8080),
    ServiceSpec("search"),
]


def _choose_taken(*taken: int):  # type: ignore[no-untyped-def]
    def choose(wanted: int) -> PortChoice:
        return PortChoice(wanted, 40000 + wanted % 1000 if wanted in taken else wanted)

    return choose


def test_plan_uses_the_well_known_ports_when_free(tmp_path: Path) -> None:
    plan = plan_fleet(
        FleetPaths.of(tmp_path), SPECS, environ={}, choose=_choose_taken(), pick_free=lambda: 4321
    )
    first, second = "http://127.0.0.1:8761/eureka", "http://127.0.0.1:8762/eureka"
    assert plan.registry_url == f"{first},{second}"
    assert plan.registry_urls == (first, second)
    assert plan.gateway_url == "http://127.0.0.1:8080"
    assert plan.nats_url == "nats://127.0.0.1:4321"
    assert plan.warnings == []
    assert [s.name for s in plan.services] == ["nats", "registry", "catalog", "gateway", "search"]
    counts = {s.name: s.instances for s in plan.services}
    # The play path runs at least two instances; the registry two peers.
    assert counts == {"nats": 1, "registry": 2, "catalog": 2, "gateway": 2, "search": 1}
    # Every instance is told of both registries; each registry of the other one.
    assert plan.env["MATINEE_REGISTRY_URL"] == plan.registry_url
    registry = plan.service("registry")
    assert registry is not None and not registry.scalable
    assert (registry.port_of(1), registry.port_of(2)) == (8761, 8762)
    assert registry.env_of(1) == {"MATINEE_REGISTRY_PEERS": second}
    assert registry.env_of(2) == {"MATINEE_REGISTRY_PEERS": first}
    assert plan.env["MATINEE_NATS_URL"] == plan.nats_url
    assert plan.env["MATINEE_DATA_DIR"] == str(tmp_path.resolve())
    assert "--jetstream" in " ".join(plan.services[0].argv) or "-js" in plan.services[0].argv


def test_a_taken_port_moves_aside_with_a_warning(tmp_path: Path) -> None:
    plan = plan_fleet(
        FleetPaths.of(tmp_path),
        SPECS,
        gateway_port=9080,
        registry_port=9761,
        environ={},
        choose=_choose_taken(9761, 9080),
        pick_free=lambda: 4321,
    )
    # The first registry moved aside; its peer's port (9762) was free.
    assert plan.registry_urls == ("http://127.0.0.1:40761/eureka", "http://127.0.0.1:9762/eureka")
    assert plan.gateway_url == "http://127.0.0.1:40080"
    assert plan.service("gateway").port == 40080  # type: ignore[union-attr]
    assert len(plan.warnings) == 2
    assert "port 9761 for registry is taken" in plan.warnings[0]
    assert plan.service("registry").env_of(2) == {  # type: ignore[union-attr]
        "MATINEE_REGISTRY_PEERS": "http://127.0.0.1:40761/eureka"
    }


def test_a_taken_peer_port_moves_aside_too_and_one_registry_is_possible(tmp_path: Path) -> None:
    plan = plan_fleet(
        FleetPaths.of(tmp_path), SPECS, environ={}, choose=_choose_taken(8762), pick_free=lambda: 1
    )
    assert plan.registry_urls == ("http://127.0.0.1:8761/eureka", "http://127.0.0.1:40762/eureka")
    assert "registry-2 listens on 40762" in plan.warnings[0]
    single = plan_fleet(
        FleetPaths.of(tmp_path), SPECS, registries=1, environ={}, choose=_choose_taken(),
        pick_free=lambda: 1,
    )  # fmt: skip
    assert single.registry_url == "http://127.0.0.1:8761/eureka"
    assert single.service("registry").env_of(1) == {"MATINEE_REGISTRY_PEERS": ""}  # type: ignore[union-attr]


def test_an_external_nats_is_used_instead_of_starting_one(tmp_path: Path) -> None:
    plan = plan_fleet(
        FleetPaths.of(tmp_path),
        SPECS,
        environ={"MATINEE_NATS_URL": "nats://nats.example:4222", "MATINEE_OTHER": "kept"},
        choose=_choose_taken(),
    )
    assert plan.nats_url == "nats://nats.example:4222"
    assert plan.service("nats") is None
    assert plan.env["MATINEE_OTHER"] == "kept"


def test_a_second_supervisor_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    paths = FleetPaths.of(tmp_path)
    assert lock_holder(paths.lock) is None
    with FleetLock(paths.lock):
        assert lock_holder(paths.lock) is not None
        with pytest.raises(FleetLocked) as refused:
            FleetLock(paths.lock).acquire()
        message = str(refused.value)
        assert f"a fleet is already running on {tmp_path.resolve()}" in message
        assert f"matinee down --data-dir {tmp_path.resolve()}" in message
    # Released: the next supervisor takes it over.
    assert lock_holder(paths.lock) is None
    with FleetLock(paths.lock):
        pass


EUREKA = {
    "applications": {
        "versions__delta": "1",
        "application": [
            {
                "name": "CATALOG",
                "instance": [
                    {
                        "instanceId": "catalog-1",
                        "hostName": "127.0.0.1",
                        "app": "CATALOG",
                        "ipAddr": "127.0.0.1",
                        "status": "UP",
                        "port": {"$": 4101, "@enabled": "true"},
                        "metadata": {"version": "0.2.0", "zone": "local-1a"},
                        "leaseInfo": {"registrationTimestamp": 1_700_000_000_000},
                    },
                    {
                        "instanceId": "catalog-2",
                        "app": "CATALOG",
                        "ipAddr": "127.0.0.1",
                        "status": "DOWN",
                        "port": 4102,
                    },
                ],
            },
            # Eureka collapses a one-element list into an object.
            {"name": "LEGACY", "instance": {"instanceId": "x1", "status": "UP", "port": 9}},
        ],
    }
}


def test_eureka_json_is_flattened_including_its_quirks() -> None:
    found = {r.instance_id: r for r in parse_apps(EUREKA)}
    assert found["catalog-1"].url == "http://127.0.0.1:4101"
    assert found["catalog-1"].version == "0.2.0"
    assert found["catalog-1"].registered_at_ms == 1_700_000_000_000
    assert found["catalog-2"].status == "DOWN"
    assert found["x1"].service == "legacy"
    assert parse_apps({"nonsense": 1}) == []
    assert parse_apps("not a dict") == []
    assert parse_apps({"applications": ["not", "a", "dict"]}) == []


STATE = {
    "nats_url": "nats://127.0.0.1:4999",
    "instances": [
        {"service": "nats", "instance_id": "nats-1", "pid": 10, "registers": False,
         "state": "up", "registry_status": "UP", "restarts": 0},
        {"service": "catalog", "instance_id": "catalog-1", "pid": 11, "registers": True,
         "state": "up", "registry_status": "UP", "restarts": 2},
        {"service": "catalog", "instance_id": "catalog-2", "pid": None, "registers": True,
         "state": "restarting", "registry_status": "", "restarts": 1},
    ],
}  # fmt: skip


def test_status_rows_merge_supervisor_and_registry() -> None:
    rows = {r["instance_id"]: r for r in fleet_rows(STATE, parse_apps(EUREKA))}
    for row in rows.values():
        assert {"service", "instance_id", "version", "url", "pid", "status"} <= row.keys()
    assert rows["catalog-1"] == {
        "service": "catalog",
        "instance_id": "catalog-1",
        "version": "0.2.0",
        "url": "http://127.0.0.1:4101",
        "pid": 11,
        "status": "UP",
        "restarts": 2,
        "zone": "local-1a",
    }
    # A dead process is DOWN whatever its lingering lease says.
    assert rows["catalog-2"]["status"] == "DOWN"
    assert rows["nats-1"]["url"] == "nats://127.0.0.1:4999"
    # Registered by something the supervisor did not start.
    assert rows["x1"]["pid"] is None
    table = format_table(list(rows.values())).splitlines()
    assert table[0].split() == ["SERVICE", "INSTANCE", "ID", "STATUS", "VERSION", "URL", "PID",
                                "RESTARTS", "ZONE"]  # fmt: skip
    # Aligned: every row's STATUS cell starts under the header's.
    column = table[0].index("STATUS")
    assert all(line[column - 2 : column] == "  " for line in table[1:])
    assert format_table([]).startswith("SERVICE")


def test_status_says_when_the_registry_cannot_be_asked() -> None:
    rows = {r["instance_id"]: r for r in fleet_rows(STATE, None)}
    assert rows["catalog-1"]["status"] == "UP?"


def test_a_lease_left_by_the_previous_process_shows_as_starting() -> None:
    doc = {
        "applications": {
            "application": {
                "name": "CATALOG",
                "instance": {
                    "instanceId": "catalog-1",
                    "status": "UP",
                    "port": 4101,
                    "metadata": {"pid": "999"},
                },
            }
        }
    }
    [row] = [r for r in fleet_rows(STATE, parse_apps(doc)) if r["instance_id"] == "catalog-1"]
    assert row["status"] == "STARTING"  # supervisor says pid 11, the lease says 999


def test_the_supervisors_view_fails_over_between_registries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from matinee.platform.discovery import Failover
    from matinee.supervisor import registry_view

    asked: list[str] = []
    down = {"http://a/eureka"}

    def fetch_one(url: str, timeout: float) -> list[Registered]:
        asked.append(url)
        if url in down:
            raise OSError("connection refused")
        return [Registered("catalog", f"from-{url[7]}", "UP", "", 1, "", "", 0)]

    monkeypatch.setattr(registry_view, "_fetch_one", fetch_one)
    both = "http://a/eureka,http://b/eureka"
    assert [r.instance_id for r in fetch_registered(both)] == ["from-b"]
    # Given a Failover (as LiveProbe keeps one), the registry that answered goes first.
    failover = Failover(("http://a/eureka", "http://b/eureka"))
    fetch_registered(both, failover=failover)
    asked.clear()
    fetch_registered(both, failover=failover)
    assert asked == ["http://b/eureka"]
    down.add("http://b/eureka")
    with pytest.raises(OSError):
        fetch_registered(both)


def test_the_fleet_waits_for_every_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from matinee.supervisor import core

    healthy = {"http://a"}
    monkeypatch.setattr(core, "is_healthy", lambda base: base in healthy)
    probe = core.LiveProbe("http://a/eureka,http://b/eureka")
    assert asyncio.run(probe.registry_healthy()) is False
    healthy.add("http://b")
    assert asyncio.run(probe.registry_healthy()) is True
