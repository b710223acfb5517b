"""The supervisor keeps the desired instances running: fakes for processes and registry."""

from __future__ import annotations

import asyncio
import itertools
import signal
from pathlib import Path

import pytest

from matinee.supervisor import (
    Backoff,
    FleetPaths,
    FleetPlan,
    LaunchSpec,
    Registered,
    ServicePlan,
    Supervisor,
    read_json,
    write_json_atomic,
)

_pids = itertools.count(1000)


class FakeProc:
    def __init__(self, spec: LaunchSpec, *, obedient: bool = True) -> None:
        self.spec = spec
        self.pid = next(_pids)
        self.code: int | None = None
        self.signals: list[int] = []
        self.obedient = obedient

    def poll(self) -> int | None:
        return self.code

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        if self.code is None and (self.obedient or sig == signal.SIGKILL):
            self.code = -sig


class FakeLauncher:
    def __init__(self) -> None:
        self.procs: list[FakeProc] = []
        self.obedient = True
        self.fail = False

    def launch(self, spec: LaunchSpec) -> FakeProc:
        if self.fail:
            raise OSError("no such file")
        proc = FakeProc(spec, obedient=self.obedient)
        self.procs.append(proc)
        return proc

    def running(self, service: str | None = None) -> list[FakeProc]:
        return [
            p
            for p in self.procs
            if p.code is None and (service is None or p.spec.argv[-1] == service)
        ]


class FakeProbe:
    """A registry that lists every running instance of the launcher as UP."""

    def __init__(self, launcher: FakeLauncher) -> None:
        self.launcher = launcher

    async def accepting(self, port: int) -> bool:
        return True

    async def registry_healthy(self) -> bool:
        return any(p.spec.argv[-1] == "registry" for p in self.launcher.running())

    async def registered(self) -> list[Registered]:
        return [_registered(p.spec.instance_id) for p in self.launcher.running()]


def _registered(instance_id: str, status: str = "UP", at_ms: int = 0) -> Registered:
    service = instance_id.rsplit("-", 1)[0]
    return Registered(service, instance_id, status, "http://127.0.0.1:1", 1, "1.0", "z", at_ms)


def _pid_registered(instance_id: str, pid: int) -> Registered:
    service = instance_id.rsplit("-", 1)[0]
    return Registered(service, instance_id, "UP", "http://x:1", 1, "1.0", "z", 0, pid)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _plan(tmp_path: Path) -> FleetPlan:
    def svc(name: str, n: int, **kw: object) -> ServicePlan:
        return ServicePlan(name=name, argv=["run", name], instances=n, **kw)  # type: ignore[arg-type]

    first, second = REGISTRIES
    return FleetPlan(
        paths=FleetPaths.of(tmp_path / "data"),
        registry_url=f"{first},{second}",
        gateway_url="http://127.0.0.1:8080",
        nats_url="nats://127.0.0.1:4999",
        services=[
            svc("nats", 1, port=4999, registers=False, scalable=False),
            svc(
                "registry",
                2,
                port=8761,
                scalable=False,
                slot_ports=(8761, 8762),
                slot_env=({"MATINEE_REGISTRY_PEERS": second}, {"MATINEE_REGISTRY_PEERS": first}),
            ),
            svc("catalog", 2),
            svc("gateway", 2, port=8080),
        ],
        env={"MATINEE_REGISTRY_URL": f"{first},{second}"},
    )


REGISTRIES = ("http://127.0.0.1:8761/eureka", "http://127.0.0.1:8762/eureka")


@pytest.fixture
def fleet(tmp_path: Path) -> tuple[Supervisor, FakeLauncher, Clock]:
    launcher = FakeLauncher()
    clock = Clock()
    sup = Supervisor(
        _plan(tmp_path),
        launcher=launcher,
        probe=FakeProbe(launcher),
        backoff=Backoff(initial=0.5, cap=4.0, stable_after=30.0),
        grace=5.0,
        clock=clock,
    )
    sup.plan.paths.create()
    for name in ("nats", "registry", "catalog", "gateway"):
        sup.enable(name)
    sup.reconcile()
    return sup, launcher, clock


def test_every_instance_starts_with_its_port_id_and_log(
    fleet: tuple[Supervisor, FakeLauncher, Clock],
) -> None:
    sup, launcher, _ = fleet
    ids = sorted(p.spec.instance_id for p in launcher.procs)
    assert ids == [
        "catalog-1", "catalog-2", "gateway-1", "gateway-2", "nats-1", "registry-1", "registry-2"
    ]  # fmt: skip
    gateway = next(p for p in launcher.procs if p.spec.instance_id == "gateway-2")
    assert gateway.spec.env["MATINEE_PORT"] == "8080"
    assert gateway.spec.env["MATINEE_INSTANCE_ID"] == "gateway-2"
    assert gateway.spec.env["MATINEE_REGISTRY_URL"] == ",".join(REGISTRIES)
    assert "MATINEE_REGISTRY_PEERS" not in gateway.spec.env
    catalog = next(p for p in launcher.procs if p.spec.instance_id == "catalog-1")
    assert catalog.spec.env["MATINEE_PORT"] == "0"
    assert catalog.spec.log_path == sup.plan.paths.logs / "catalog" / "catalog-1.log"


def test_each_registry_peer_gets_its_own_port_and_the_other_as_peer(
    fleet: tuple[Supervisor, FakeLauncher, Clock],
) -> None:
    sup, launcher, clock = fleet
    by_id = {p.spec.instance_id: p for p in launcher.running("registry")}
    assert by_id["registry-1"].spec.env["MATINEE_PORT"] == "8761"
    assert by_id["registry-1"].spec.env["MATINEE_REGISTRY_PEERS"] == REGISTRIES[1]
    assert by_id["registry-2"].spec.env["MATINEE_PORT"] == "8762"
    assert by_id["registry-2"].spec.env["MATINEE_REGISTRY_PEERS"] == REGISTRIES[0]
    # A killed peer comes back where the others (and every client) expect it.
    by_id["registry-2"].code = -9
    sup.reconcile()
    clock.now += 1
    sup.reconcile()
    again = next(p for p in launcher.running("registry") if p.spec.instance_id == "registry-2")
    assert again is not by_id["registry-2"]
    assert again.spec.env["MATINEE_PORT"] == "8762"
    assert again.spec.env["MATINEE_REGISTRY_PEERS"] == REGISTRIES[0]
    state = read_json(sup.plan.paths.state)
    assert state["registry_urls"] == list(REGISTRIES)
    ports = {i["instance_id"]: i["port"] for i in state["instances"]}
    assert (ports["registry-1"], ports["registry-2"]) == (8761, 8762)


def test_a_dead_instance_is_restarted_after_a_growing_backoff(
    fleet: tuple[Supervisor, FakeLauncher, Clock],
) -> None:
    sup, launcher, clock = fleet
    first = launcher.running("catalog")[0]
    delays = []
    for _ in range(4):
        victim = next(p for p in launcher.running("catalog") if p.spec.instance_id == "catalog-1")
        victim.code = -9
        sup.reconcile()  # reaped; not yet restarted
        assert len(launcher.running("catalog")) == 1
        died = clock.now
        while len(launcher.running("catalog")) < 2:
            clock.now += 0.25
            sup.reconcile()
        delays.append(clock.now - died)
    assert delays == [0.5, 1.0, 2.0, 4.0]
    state = read_json(sup.plan.paths.state)
    row = next(i for i in state["instances"] if i["instance_id"] == "catalog-1")
    assert row["restarts"] == 4
    assert row["pid"] != first.pid
    assert row["last_exit"] == -9


def test_backoff_resets_once_a_replacement_stayed_up(
    fleet: tuple[Supervisor, FakeLauncher, Clock],
) -> None:
    sup, launcher, clock = fleet
    for _ in range(3):
        launcher.running("catalog")[0].code = 1
        sup.reconcile()
        clock.now += 10
        sup.reconcile()
    clock.now += 60  # the latest one stays up a minute
    sup.reconcile()
    launcher.running("catalog")[0].code = 1
    sup.reconcile()
    clock.now += 0.5
    sup.reconcile()
    assert len(launcher.running("catalog")) == 2


def test_an_instance_that_cannot_even_start_is_retried(
    fleet: tuple[Supervisor, FakeLauncher, Clock],
) -> None:
    sup, launcher, clock = fleet
    launcher.running("catalog")[0].code = 1
    launcher.fail = True
    for _ in range(5):
        clock.now += 1
        sup.reconcile()
    launcher.fail = False
    clock.now += 10
    sup.reconcile()
    assert len(launcher.running("catalog")) == 2


def test_scale_up_and_down_converges(fleet: tuple[Supervisor, FakeLauncher, Clock]) -> None:
    sup, launcher, _clock = fleet
    sup.scale("catalog", 4)
    sup.reconcile()
    assert sorted(p.spec.instance_id for p in launcher.running("catalog")) == [
        "catalog-1",
        "catalog-2",
        "catalog-3",
        "catalog-4",
    ]
    sup.scale("catalog", 1)
    sup.reconcile()
    stopped = [p for p in launcher.procs if p.signals]
    assert sorted(p.spec.instance_id for p in stopped) == ["catalog-2", "catalog-3", "catalog-4"]
    assert all(p.signals == [signal.SIGTERM] for p in stopped)
    sup.reconcile()
    state = read_json(sup.plan.paths.state)
    assert [i["instance_id"] for i in state["instances"] if i["service"] == "catalog"] == [
        "catalog-1"
    ]
    assert state["desired"]["catalog"] == 1


def test_an_instance_that_ignores_sigterm_is_killed_after_the_grace(
    fleet: tuple[Supervisor, FakeLauncher, Clock],
) -> None:
    sup, launcher, clock = fleet
    stubborn = next(p for p in launcher.procs if p.spec.instance_id == "catalog-2")
    stubborn.obedient = False
    sup.scale("catalog", 1)
    sup.reconcile()
    assert stubborn.code is None
    clock.now += 5.1
    sup.reconcile()
    assert stubborn.signals == [signal.SIGTERM, signal.SIGKILL]


@pytest.mark.parametrize(
    ("service", "count", "message"),
    [
        ("nope", 2, "unknown service 'nope'"),
        ("registry", 2, "cannot be scaled"),
        ("nats", 2, "cannot be scaled"),
        ("catalog", -1, "between 0 and"),
    ],
)
def test_scale_refuses_what_it_cannot_do(
    fleet: tuple[Supervisor, FakeLauncher, Clock], service: str, count: int, message: str
) -> None:
    sup, _, _ = fleet
    with pytest.raises(ValueError, match=message):
        sup.scale(service, count)


def test_control_requests_are_answered(fleet: tuple[Supervisor, FakeLauncher, Clock]) -> None:
    sup, launcher, _ = fleet
    control = sup.plan.paths.control
    write_json_atomic(
        control / "a.request.json",
        {"id": "a", "command": "scale", "service": "gateway", "count": 3},
    )
    write_json_atomic(
        control / "b.request.json", {"id": "b", "command": "scale", "service": "nope", "count": 3}
    )
    write_json_atomic(control / "c.request.json", {"id": "c", "command": "explode"})
    sup.reconcile()
    assert read_json(control / "a.reply.json") == {
        "ok": True,
        "message": "scaling gateway from 2 to 3 instances",
    }
    assert read_json(control / "b.reply.json")["ok"] is False
    assert "unknown command" in read_json(control / "c.reply.json")["message"]
    assert not list(control.glob("*.request.json"))
    sup.reconcile()
    assert len(launcher.running("gateway")) == 3


def test_a_stale_lease_from_the_previous_process_is_not_up(
    fleet: tuple[Supervisor, FakeLauncher, Clock],
) -> None:
    sup, launcher, _ = fleet
    ids = [p.spec.instance_id for p in launcher.running()]
    long_ago_ms = int((sup.wall() - 3600) * 1000)
    registered = [_registered(i) for i in ids if i != "catalog-1"]
    registered.append(_registered("catalog-1", at_ms=long_ago_ms))
    sup.observe(registered, nats_up=True)
    assert sup.ready_at is None
    state = sup.snapshot()
    row = next(i for i in state["instances"] if i["instance_id"] == "catalog-1")
    assert row["state"] == "starting"
    # A lease naming another pid is the previous process's, whatever its age.
    previous = [_registered(i) for i in ids if i != "catalog-1"]
    sup.observe([*previous, _pid_registered("catalog-1", 1)], nats_up=True)
    assert sup.ready_at is None
    catalog_1 = next(p for p in launcher.running() if p.spec.instance_id == "catalog-1")
    sup.observe([*previous, _pid_registered("catalog-1", catalog_1.pid)], nats_up=True)
    assert sup.ready_at is not None
    assert sup.snapshot()["phase"] == "running"


def test_shutdown_stops_services_then_registry_then_nats(
    fleet: tuple[Supervisor, FakeLauncher, Clock],
) -> None:
    sup, launcher, _clock = fleet
    order: list[str] = []
    for proc in launcher.procs:
        original = proc.send_signal

        def record(sig: int, proc: FakeProc = proc, original=original) -> None:  # type: ignore[no-untyped-def]
            order.append(proc.spec.instance_id)
            original(sig)

        proc.send_signal = record  # type: ignore[method-assign]
    asyncio.run(sup.shutdown())
    assert set(order[:4]) == {"catalog-1", "catalog-2", "gateway-1", "gateway-2"}
    assert order[4:] == ["registry-1", "registry-2", "nats-1"]
    assert not launcher.running()
    state = read_json(sup.plan.paths.state)
    assert state["phase"] == "stopped"
    assert state["instances"] == []


def test_run_starts_in_order_reports_ready_and_stops_on_request(tmp_path: Path) -> None:
    launcher = FakeLauncher()
    sup = Supervisor(_plan(tmp_path), launcher=launcher, probe=FakeProbe(launcher), tick=0.01)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(sup.run(stop))
        for _ in range(500):
            if sup.ready_at is not None:
                break
            await asyncio.sleep(0.01)
        state = read_json(sup.plan.paths.state)
        stop.set()
        await task
        assert state["phase"] == "running"
        assert {i["state"] for i in state["instances"]} == {"up"}
        assert all(isinstance(i["pid"], int) for i in state["instances"])

    asyncio.run(scenario())
    started = [p.spec.instance_id for p in launcher.procs]
    assert started[:3] == ["nats-1", "registry-1", "registry-2"]
    assert not launcher.running()
