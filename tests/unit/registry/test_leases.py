"""The lease table's rules, driven by a fake clock."""

from __future__ import annotations

from matinee.platform.discovery import Status
from matinee.services.registry.domain import InstanceRecord, PreservationPolicy, Registry


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def record(n: int, app: str = "catalog") -> InstanceRecord:
    return InstanceRecord(app=app, instance_id=f"{app}-{n}", host_name="h", ip_addr="h", port=n)


def fleet(size: int, **policy: float) -> tuple[Registry, Clock]:
    clock = Clock()
    reg = Registry(clock=clock, policy=PreservationPolicy(**policy))  # type: ignore[arg-type]
    for n in range(size):
        reg.register(record(n))
    return reg, clock


def heartbeat_all(
    reg: Registry, clock: Clock, seconds: float, skip: frozenset[str] = frozenset()
) -> None:
    for _ in range(int(seconds // 30)):
        clock.now += 30
        for r in reg.records():
            if r.instance_id not in skip:
                reg.renew(r.app, r.instance_id)


def test_app_names_are_case_insensitive() -> None:
    reg, _ = fleet(1)
    assert reg.get("CATALOG", "catalog-0") is not None
    assert reg.get("Catalog", "catalog-0") is not None
    assert reg.get("search", "catalog-0") is None


def test_one_silent_instance_in_a_healthy_fleet_is_evicted() -> None:
    reg, clock = fleet(20)
    heartbeat_all(reg, clock, 90, skip=frozenset({"catalog-3"}))
    clock.now += 1
    assert [r.instance_id for r in reg.evict()] == ["catalog-3"]
    assert len(reg) == 19


def test_self_preservation_needs_a_full_window_of_history() -> None:
    reg, clock = fleet(10)
    clock.now += 100  # nothing renewed since start; the window is not yet observed fully
    reg._started = clock.now - 30  # pretend the registry only started 30 s ago
    assert not reg.preservation().engaged


def test_self_preservation_can_be_disabled() -> None:
    reg, clock = fleet(10, enabled=False)
    heartbeat_all(reg, clock, 60)
    clock.now += 100
    assert len(reg.evict()) == 10


def test_override_survives_reregistration_but_not_cancel() -> None:
    reg, _ = fleet(1)
    reg.set_override("catalog", "catalog-0", Status.OUT_OF_SERVICE)
    reg.register(record(0))
    assert reg.get("catalog", "catalog-0").effective_status is Status.OUT_OF_SERVICE  # type: ignore[union-attr]
    reg.cancel("catalog", "catalog-0")
    reg.register(record(0))
    assert reg.get("catalog", "catalog-0").effective_status is Status.UP  # type: ignore[union-attr]


def test_hashcode_counts_effective_statuses() -> None:
    reg, _ = fleet(3)
    reg.set_override("catalog", "catalog-1", Status.DOWN)
    assert reg.hashcode() == "DOWN_1_UP_2_"


def test_snapshot_round_trip_skips_the_pinned_record() -> None:
    reg, clock = fleet(2)
    reg.register(record(0, app="registry").evolve(pinned=True))
    entries = reg.snapshot()
    assert {e["instance_id"] for e in entries} == {"catalog-0", "catalog-1"}
    fresh = Registry(clock=clock)
    assert fresh.restore([*entries, {"broken": True}]) == 2
    assert {r.instance_id for r in fresh.records()} == {"catalog-0", "catalog-1"}
