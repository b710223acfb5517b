"""What a registry does with its peers' records: replicated registrations and the start-up sync."""

from __future__ import annotations

from matinee.platform.discovery import Status
from matinee.services.registry.domain import InstanceRecord, Registry


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def record(n: int, *, dirty: float = 0.0, status: Status = Status.UP) -> InstanceRecord:
    return InstanceRecord(
        app="catalog",
        instance_id=f"catalog-{n}",
        host_name="h",
        ip_addr="h",
        port=n,
        status=status,
        last_dirty=dirty,
    )


def test_a_replica_older_than_ours_does_not_roll_the_instance_back() -> None:
    clock = Clock()
    reg = Registry(clock=clock)
    reg.register(record(1, dirty=900.0, status=Status.DOWN))
    assert reg.register_replica(record(1, dirty=800.0, status=Status.UP)) is None
    assert reg.get("catalog", "catalog-1").status is Status.DOWN  # type: ignore[union-attr]
    # A newer one (or the same state, rounded to Eureka's milliseconds) is applied.
    assert reg.register_replica(record(1, dirty=900.0004, status=Status.UP)) is not None
    assert reg.get("catalog", "catalog-1").status is Status.UP  # type: ignore[union-attr]
    assert reg.register_replica(record(2, dirty=1.0)) is not None
    assert len(reg) == 2


def test_a_peer_never_replaces_the_registrys_own_record() -> None:
    reg = Registry(clock=Clock())
    own = InstanceRecord(app="REGISTRY", instance_id="registry-1", host_name="h", ip_addr="h",
                         port=8761, pinned=True)  # fmt: skip
    reg.register(own)
    copy = own.evolve(pinned=False, last_dirty=5_000.0, status=Status.DOWN)
    assert reg.register_replica(copy) is None
    assert reg.adopt([copy]) == 0
    kept = reg.find("registry-1")
    assert kept is not None and kept.pinned and kept.status is Status.UP


def test_adopt_takes_what_is_missing_or_newer_with_fresh_leases() -> None:
    clock = Clock()
    reg = Registry(clock=clock)
    reg.register(record(1, dirty=950.0, status=Status.DOWN))  # ours is newer: kept
    reg.register(record(2, dirty=100.0))  # the peer's is newer: taken
    clock.now = 2_000.0
    peer = [
        record(1, dirty=500.0),
        record(2, dirty=600.0, status=Status.OUT_OF_SERVICE),
        record(3, dirty=700.0).evolve(overridden_status=Status.OUT_OF_SERVICE),
    ]
    assert reg.adopt(peer) == 2
    assert reg.find("catalog-1").status is Status.DOWN  # type: ignore[union-attr]
    assert reg.find("catalog-2").status is Status.OUT_OF_SERVICE  # type: ignore[union-attr]
    three = reg.find("catalog-3")
    assert three is not None and three.effective_status is Status.OUT_OF_SERVICE
    # Taken leases start now: the silence before the sync costs them nothing, while
    # catalog-1, silent here for over 1000 s, goes.
    assert three.lease.renewed_at == 2_000.0
    clock.now += 60
    assert [r.instance_id for r in reg.evict()] == ["catalog-1"]
    # The override came along: it outlives the instance's next registration.
    reg.register(record(3, dirty=2_100.0))
    assert reg.find("catalog-3").effective_status is Status.OUT_OF_SERVICE  # type: ignore[union-attr]
    # And the adopted instances appear in the delta clients follow.
    assert {r.instance_id for r in reg.delta()} >= {"catalog-2", "catalog-3"}


def test_one_peer_list_can_serve_every_registry(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from matinee.services.registry.settings import RegistrySettings

    peers = (
        "http://127.0.0.1:8761/eureka, http://localhost:8762/eureka/,http://10.0.0.3:8761/eureka"
    )
    one = RegistrySettings(data_dir=tmp_path, port=8761, registry_peers=peers)
    two = RegistrySettings(data_dir=tmp_path, port=8762, registry_peers=peers)
    assert one.peer_urls == ("http://localhost:8762/eureka", "http://10.0.0.3:8761/eureka")
    assert two.peer_urls == ("http://127.0.0.1:8761/eureka", "http://10.0.0.3:8761/eureka")
    assert RegistrySettings(data_dir=tmp_path).peer_urls == ()
