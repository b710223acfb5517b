"""The supervisor: keep the desired number of instances of every service running.

Like an auto-scaling group: an instance that dies is replaced after an
exponential backoff (reset once a replacement stays up a while), ``scale``
changes the desired count, and ``shutdown`` stops the fleet in reverse start
order (services, then the registries they deregister from, then NATS).

| usage | what happens |
|---|---|
| ``await Supervisor(plan, launcher=l, probe=p).run(stop)`` | runs until ``stop`` is set |
| ``supervisor.reconcile()`` | one pass: reap, restart, resize, answer control requests |
| ``supervisor.scale("catalog", 3)`` | converge to three catalog instances |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from matinee.platform.discovery import Failover, split_registry_urls
from matinee.supervisor.layout import read_json, write_json_atomic
from matinee.supervisor.plan import NATS, REGISTRY, FleetPlan, ServicePlan
from matinee.supervisor.procs import Launcher, LaunchSpec, Proc
from matinee.supervisor.registry_view import (
    Registered,
    fetch_registered,
    is_healthy,
    registry_base_url,
)

__all__ = ["Backoff", "LiveProbe", "Probe", "Slot", "Supervisor"]

log = logging.getLogger("matinee.supervisor")

# How long the start sequence waits for NATS, then the registry, before going on anyway.
_DEPENDENCY_WAIT = 30.0
# A registration older than the process it names (minus this slack, seconds) is a stale lease.
_STALE_SLACK = 2.0
_MAX_INSTANCES = 64


class Probe(Protocol):
    """How the supervisor sees the outside world; tests pass a fake."""

    async def accepting(self, port: int) -> bool:
        """Return whether 127.0.0.1:``port`` accepts a TCP connection."""
        ...

    async def registry_healthy(self) -> bool:
        """Return whether every registry answers its health check."""
        ...

    async def registered(self) -> list[Registered]:
        """Return what the registry lists; raise OSError when it cannot be asked."""
        ...


class LiveProbe:
    """The real probe: TCP connects and HTTP calls to the registries.

    ``registry_url`` may name several registries (comma-separated): all must answer
    their health check at start; the fleet's view comes from the one that answered
    last, failing over to the next as discovery clients do.
    """

    def __init__(self, registry_url: str) -> None:
        self.registry_url = registry_url
        self.registry_urls = split_registry_urls(registry_url)
        self._failover = Failover(self.registry_urls or ("http://127.0.0.1:8761/eureka",))

    async def accepting(self, port: int) -> bool:
        """Return whether 127.0.0.1:``port`` accepts a TCP connection."""
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def registry_healthy(self) -> bool:
        """Return whether every registry's ``/healthz`` answers 200."""
        checks = (
            asyncio.to_thread(is_healthy, registry_base_url(url)) for url in self.registry_urls
        )
        return all(await asyncio.gather(*checks))

    async def registered(self) -> list[Registered]:
        """Return every instance the registries list (asking one that answers)."""
        return await asyncio.to_thread(
            fetch_registered, self.registry_url, 2.0, failover=self._failover
        )


@dataclass(frozen=True, slots=True)
class Backoff:
    """Restart delays: ``initial`` doubling up to ``cap``; reset after ``stable_after`` s up."""

    initial: float = 0.5
    cap: float = 30.0
    stable_after: float = 30.0


@dataclass(eq=False)
class Slot:
    """One instance position of a service: its current process and its history."""

    plan: ServicePlan
    index: int
    proc: Proc | None = None
    started_mono: float = 0.0
    started_at: float = 0.0
    restarts: int = 0
    delay: float = 0.0
    next_start: float = 0.0
    ever_started: bool = False
    last_exit: int | None = None
    stop_deadline: float | None = None
    killed: bool = False
    # What the registry says about this very process ("" until it has registered).
    registry_status: str = ""
    port: int | None = None

    @property
    def instance_id(self) -> str:
        return f"{self.plan.name}-{self.index}"

    @property
    def state(self) -> str:
        if self.stop_deadline is not None:
            return "stopping"
        if self.proc is None:
            return "waiting" if not self.ever_started else "restarting"
        return "up" if self.registry_status == "UP" else "starting"


class Supervisor:
    """Runs a FleetPlan: starts, watches, restarts, scales and stops instance processes."""

    def __init__(
        self,
        plan: FleetPlan,
        *,
        launcher: Launcher,
        probe: Probe,
        backoff: Backoff | None = None,
        tick: float = 0.1,
        grace: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.plan = plan
        self.launcher = launcher
        self.probe = probe
        self.backoff = backoff or Backoff()
        self.tick = tick
        self.grace = grace
        self.clock = clock
        self.wall = wall
        self.desired: dict[str, int] = {s.name: s.instances for s in plan.services}
        self.slots: dict[str, list[Slot]] = {s.name: [] for s in plan.services}
        self.enabled: set[str] = set()
        self.phase = "starting"
        self.started_at = wall()
        self.ready_at: float | None = None
        self.stopping = False
        self._dirty = True

    # -- one pass -------------------------------------------------------------------------

    def enable(self, service: str) -> None:
        """Let ``service`` start (the start sequence enables services in order)."""
        self.enabled.add(service)
        self._dirty = True

    def reconcile(self) -> None:
        """Reap exited processes, restart or resize, answer control requests, save state."""
        now = self.clock()
        self._take_requests()
        for plan in self.plan.services:
            if plan.name not in self.enabled:
                continue
            if not self.stopping:
                self._resize(plan, now)
            for slot in list(self.slots[plan.name]):
                self._tend(slot, now)
        if self._dirty:
            self.save_state()

    def scale(self, service: str, count: int) -> str:
        """Set the desired count of ``service``; raise ValueError when that is not allowed."""
        plan = self.plan.service(service)
        if plan is None:
            known = ", ".join(s.name for s in self.plan.services if s.scalable)
            raise ValueError(f"unknown service {service!r} (services: {known})")
        if not plan.scalable:
            raise ValueError(
                f"{service} runs as a fixed set of {plan.instances} and cannot be scaled"
            )
        if not 0 <= count <= _MAX_INSTANCES:
            raise ValueError(f"instance count must be between 0 and {_MAX_INSTANCES}")
        before = self.desired[service]
        self.desired[service] = count
        self._dirty = True
        log.info("scale %s: %d -> %d instances", service, before, count)
        return f"scaling {service} from {before} to {count} instances"

    def _resize(self, plan: ServicePlan, now: float) -> None:
        slots = self.slots[plan.name]
        active = [s for s in slots if s.stop_deadline is None]
        want = self.desired[plan.name]
        used = {s.index for s in slots}
        for _ in range(want - len(active)):
            index = next(i for i in range(1, len(used) + 2) if i not in used)
            used.add(index)
            slots.append(Slot(plan, index, next_start=now, delay=self.backoff.initial))
            self._dirty = True
        if len(active) > want:
            for slot in sorted(active, key=lambda s: s.index, reverse=True)[: len(active) - want]:
                self._stop(slot, now, self.grace)

    def _tend(self, slot: Slot, now: float) -> None:
        if slot.proc is not None:
            code = slot.proc.poll()
            if code is None:
                if slot.stop_deadline is not None and now >= slot.stop_deadline and not slot.killed:
                    log.warning("%s did not stop in time; killing it", slot.instance_id)
                    slot.proc.send_signal(signal.SIGKILL)
                    slot.killed = True
                return
            self._exited(slot, code, now)
        if slot.stop_deadline is not None:
            self.slots[slot.plan.name].remove(slot)
            self._dirty = True
            log.info("%s stopped", slot.instance_id)
        elif not self.stopping and now >= slot.next_start:
            self._start(slot, now)

    def _exited(self, slot: Slot, code: int, now: float) -> None:
        pid = slot.proc.pid if slot.proc else None
        slot.proc = None
        slot.last_exit = code
        slot.registry_status = ""
        self._dirty = True
        if slot.stop_deadline is not None or self.stopping:
            return
        if now - slot.started_mono >= self.backoff.stable_after:
            slot.delay = self.backoff.initial
        slot.next_start = now + slot.delay
        how = f"signal {-code}" if code < 0 else f"code {code}"
        log.warning(
            "%s (pid %s) exited with %s after %.1f s; restarting in %.1f s",
            slot.instance_id,
            pid,
            how,
            now - slot.started_mono,
            slot.delay,
        )
        slot.delay = min(slot.delay * 2, self.backoff.cap)

    def _start(self, slot: Slot, now: float) -> None:
        plan = slot.plan
        port = plan.port_of(slot.index)
        env = {
            **self.plan.env,
            **plan.env_of(slot.index),
            "MATINEE_PORT": str(port),
            "MATINEE_INSTANCE_ID": slot.instance_id,
        }
        spec = LaunchSpec(
            slot.instance_id,
            list(plan.argv),
            env,
            self.plan.paths.instance_log(plan.name, slot.instance_id),
        )
        if slot.ever_started:
            slot.restarts += 1
        slot.ever_started = True
        slot.started_mono = now
        slot.started_at = self.wall()
        slot.registry_status = ""
        slot.port = port or None
        slot.killed = False
        self._dirty = True
        try:
            slot.proc = self.launcher.launch(spec)
        except OSError as exc:
            slot.next_start = now + slot.delay
            log.error(
                "%s could not start: %s; retrying in %.1f s", slot.instance_id, exc, slot.delay
            )
            slot.delay = min(slot.delay * 2, self.backoff.cap)
            return
        log.info("%s started (pid %d)", slot.instance_id, slot.proc.pid)

    def _stop(self, slot: Slot, now: float, grace: float) -> None:
        if slot.stop_deadline is None:
            slot.stop_deadline = now + grace
            self._dirty = True
            if slot.proc is not None:
                log.info("stopping %s (pid %d)", slot.instance_id, slot.proc.pid)
                slot.proc.send_signal(signal.SIGTERM)
        else:
            slot.stop_deadline = min(slot.stop_deadline, now + grace)

    # -- what the registry says -----------------------------------------------------------

    def observe(self, registered: list[Registered] | None, nats_up: bool = False) -> None:
        """Record which instances the registry lists UP; mark the fleet ready when all are."""
        by_id = {r.instance_id: r for r in registered or []}
        for plan in self.plan.services:
            for slot in self.slots[plan.name]:
                status = ""
                if slot.proc is not None and not plan.registers:
                    status = "UP" if nats_up else ""
                elif slot.proc is not None and registered is not None:
                    found = by_id.get(slot.instance_id)
                    if found is not None and not self._stale(found, slot):
                        status = found.status
                        slot.port = found.port or slot.port
                elif slot.proc is not None:
                    status = slot.registry_status  # registry unreachable: keep the last word
                if status != slot.registry_status:
                    slot.registry_status = status
                    self._dirty = True
        if self.ready_at is None and not self.stopping and self._all_up():
            self.ready_at = self.wall()
            self.phase = "running"
            self._dirty = True
            count = sum(len(s) for s in self.slots.values())
            log.info(
                "fleet is UP: %d instances in %.1f s; gateway %s, registry %s",
                count,
                self.ready_at - self.started_at,
                self.plan.gateway_url or "(none)",
                self.plan.registry_url,
            )

    def _stale(self, found: Registered, slot: Slot) -> bool:
        if found.pid is not None and slot.proc is not None:
            return found.pid != slot.proc.pid
        # Only trust timestamps that look like milliseconds since the epoch.
        if found.registered_at_ms < 10**12:
            return False
        return found.registered_at_ms / 1000 < slot.started_at - _STALE_SLACK

    def _all_up(self) -> bool:
        for plan in self.plan.services:
            if plan.name not in self.enabled:
                return False
            slots = [s for s in self.slots[plan.name] if s.stop_deadline is None]
            if len(slots) != self.desired[plan.name]:
                return False
            if any(s.registry_status != "UP" for s in slots):
                return False
        return True

    # -- control requests from the CLI ----------------------------------------------------

    def _take_requests(self) -> None:
        control = self.plan.paths.control
        try:
            names = sorted(p for p in control.iterdir() if p.name.endswith(".request.json"))
        except OSError:
            return
        for path in names:
            raw = read_json(path)
            path.unlink(missing_ok=True)
            if not isinstance(raw, dict):
                continue
            request_id = str(raw.get("id") or path.name.split(".")[0])
            ok, message = self._answer(raw)
            write_json_atomic(control / f"{request_id}.reply.json", {"ok": ok, "message": message})

    def _answer(self, raw: dict[str, Any]) -> tuple[bool, str]:
        if raw.get("command") != "scale":
            return False, f"unknown command {raw.get('command')!r}"
        try:
            return True, self.scale(str(raw.get("service")), int(raw.get("count", -1)))
        except (TypeError, ValueError) as exc:
            return False, str(exc)

    # -- state file -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Return the state as written to ``state.json``."""
        instances = []
        for plan in self.plan.services:
            for slot in sorted(self.slots[plan.name], key=lambda s: s.index):
                pid = slot.proc.pid if slot.proc is not None else None
                instances.append(
                    {
                        "service": plan.name,
                        "instance_id": slot.instance_id,
                        "pid": pid,
                        "port": slot.port,
                        "registers": plan.registers,
                        "restarts": slot.restarts,
                        "started_at": slot.started_at if slot.ever_started else None,
                        "state": slot.state,
                        "registry_status": slot.registry_status,
                        "last_exit": slot.last_exit,
                    }
                )
        return {
            "pid": os.getpid(),
            "data_dir": str(self.plan.paths.data_dir),
            "phase": self.phase,
            "started_at": self.started_at,
            "ready_at": self.ready_at,
            "registry_url": self.plan.registry_url,
            "registry_urls": list(self.plan.registry_urls),
            "gateway_url": self.plan.gateway_url,
            "nats_url": self.plan.nats_url,
            "warnings": list(self.plan.warnings),
            "desired": dict(self.desired),
            "instances": instances,
        }

    def save_state(self) -> None:
        """Write the state file now."""
        self._dirty = False
        try:
            write_json_atomic(self.plan.paths.state, self.snapshot())
        except OSError as exc:
            log.error("cannot write %s: %s", self.plan.paths.state, exc)

    # -- running --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Start the fleet, keep it running until ``stop`` is set, then shut it down."""
        self.plan.paths.create()
        for warning in self.plan.warnings:
            log.warning("WARNING: %s", warning)
        self.save_state()
        loops = [asyncio.create_task(self._reconcile_loop()), asyncio.create_task(self._watch())]
        try:
            await stop.wait()
        finally:
            self.stopping = True
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self.shutdown()

    def force(self) -> None:
        """Stop waiting for graceful exits: kill whatever is still running."""
        log.warning("forcing the fleet down")
        self.grace = 0.0
        now = self.clock()
        for slots in self.slots.values():
            for slot in slots:
                slot.stop_deadline = now

    async def shutdown(self) -> None:
        """Stop services, then the registries, then NATS; each tier SIGTERM then SIGKILL."""
        self.stopping = True
        self.phase = "stopping"
        self.save_state()
        others = [s.name for s in self.plan.services if s.name not in (REGISTRY, NATS)]
        for tier in (others, [REGISTRY], [NATS]):
            now = self.clock()
            for name in tier:
                for slot in list(self.slots.get(name, [])):
                    self._stop(slot, now, self.grace)
            while any(self.slots.get(name) for name in tier):
                now = self.clock()
                for name in tier:
                    for slot in list(self.slots.get(name, [])):
                        self._tend(slot, now)
                if any(self.slots.get(name) for name in tier):
                    await asyncio.sleep(self.tick)
        self.phase = "stopped"
        self.save_state()
        log.info("fleet is down")

    async def _reconcile_loop(self) -> None:
        while True:
            try:
                self.reconcile()
            except Exception:  # one bad pass must not end supervision
                log.exception("reconcile failed")
            await asyncio.sleep(self.tick)

    async def _watch(self) -> None:
        nats = self.plan.service(NATS)
        if nats is not None:
            self.enable(NATS)
            if await self._wait_for(lambda: self.probe.accepting(nats.port), "nats"):
                log.info("nats is up on %s", self.plan.nats_url)
        if self.plan.service(REGISTRY) is not None:
            self.enable(REGISTRY)
            # All peers, started together: services then register with peers that
            # replicate to each other from the first registration on.
            if await self._wait_for(self.probe.registry_healthy, "the registry"):
                log.info("registry is up on %s", ", ".join(self.plan.registry_urls))
        for plan in self.plan.services:
            self.enable(plan.name)
        while True:
            try:
                registered: list[Registered] | None = await self.probe.registered()
            except OSError:
                registered = None
            nats_up = nats is not None and await self.probe.accepting(nats.port)
            self.observe(registered, nats_up)
            if self._dirty:
                self.save_state()
            await asyncio.sleep(1.0 if self.ready_at else 0.2)

    async def _wait_for(self, check: Callable[[], Any], what: str) -> bool:
        deadline = self.clock() + _DEPENDENCY_WAIT
        while self.clock() < deadline:
            if await check():
                return True
            await asyncio.sleep(0.1)
        log.error("%s is not up after %.0f s; starting the rest anyway", what, _DEPENDENCY_WAIT)
        return False
