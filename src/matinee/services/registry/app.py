"""Composition root of the registry: wiring only (DESIGN.md, one composition root)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from matinee.platform.discovery import Status
from matinee.platform.service import create_service_app
from matinee.platform.telemetry.metrics import Metrics
from matinee.services.registry import SPEC
from matinee.services.registry.api import RegistryEvents, build_router
from matinee.services.registry.domain import InstanceRecord, PreservationPolicy, Registry
from matinee.services.registry.local import LocalDiscovery
from matinee.services.registry.settings import RegistrySettings
from matinee.services.registry.storage import SnapshotStore

__all__ = ["create_app"]

log = logging.getLogger("matinee.registry")


def create_app(
    settings: RegistrySettings | None = None,
    *,
    clock: Callable[[], float] | None = None,
    snapshots: SnapshotStore | None = None,
    background: bool = True,
) -> Starlette:
    """Build the registry; tests pass a fake ``clock`` and drive eviction themselves."""
    settings = settings or RegistrySettings()
    registry = Registry(
        clock=clock or time.time,
        lease_duration=settings.effective_lease_duration,
        renewal_interval=settings.lease_renewal_interval,
        policy=PreservationPolicy(
            enabled=settings.registry_self_preservation,
            renewal_threshold=settings.registry_renewal_threshold,
            window=settings.registry_self_preservation_window,
            max_lease_multiple=settings.registry_max_lease_multiple,
        ),
        delta_retention=settings.registry_delta_retention,
    )
    if snapshots is None:
        snapshots = SnapshotStore(settings.service_dir(SPEC.name) / "leases.json")
    metrics = Metrics()
    registrations = metrics.counter(
        "matinee_registry_registrations_total", "Registrations received", ["app"]
    )
    renewals = metrics.counter("matinee_registry_renewals_total", "Heartbeats received", ["result"])
    cancels = metrics.counter("matinee_registry_cancels_total", "Cancellations received")
    evictions = metrics.counter("matinee_registry_evictions_total", "Leases evicted")
    instances_gauge = metrics.gauge(
        "matinee_registry_instances", "Registered instances by status", ["status"]
    )
    preserving = metrics.gauge(
        "matinee_registry_self_preservation", "1 while self-preservation holds expired leases"
    )

    def observe() -> None:
        counts = dict.fromkeys(Status, 0)
        for record in registry.records():
            counts[record.effective_status] += 1
        for status, count in counts.items():
            instances_gauge.labels(status.value).set(count)
        preserving.set(1 if registry.preservation().engaged else 0)

    def evict_once() -> list[InstanceRecord]:
        registry.renew_pinned()
        evicted = registry.evict()
        for record in evicted:
            evictions.inc()
            log.warning(
                "evicted %s %s: no heartbeat for %.0f s",
                record.app,
                record.instance_id,
                registry.now() - record.lease.renewed_at,
            )
        observe()
        return evicted

    saved_version = -1

    async def save_snapshot() -> None:
        nonlocal saved_version
        if registry.version == saved_version:
            return
        version = registry.version
        try:
            await asyncio.to_thread(snapshots.save, registry.snapshot())
            saved_version = version
        except OSError as exc:
            log.warning("cannot write lease snapshot: %s", exc)

    async def every(interval: float, step: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                result = step()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # a failed pass must not stop the next one
                log.exception("registry background pass failed")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loaded = registry.restore(await asyncio.to_thread(snapshots.load))
        if loaded:
            log.info("restored %d leases from %s", loaded, snapshots.path)
        observe()
        tasks: list[asyncio.Task[None]] = []
        if background:
            tasks = [
                asyncio.create_task(every(settings.registry_eviction_interval, evict_once)),
                asyncio.create_task(every(settings.registry_snapshot_interval, save_snapshot)),
            ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await save_snapshot()

    events = RegistryEvents(
        on_register=lambda record: registrations.labels(record.app).inc(),
        on_renew=lambda known: renewals.labels("ok" if known else "unknown").inc(),
        on_cancel=lambda record: cancels.inc(),
    )
    routers = [
        build_router(registry, max_body=settings.registry_max_body, events=events),
        # Netflix's own clients default to /eureka/v2.
        build_router(
            registry, max_body=settings.registry_max_body, events=events, prefix="/eureka/v2"
        ),
    ]
    app = create_service_app(
        SPEC,
        settings,
        routers=routers,
        lifespan=lifespan,
        discovery=LocalDiscovery(registry),
        metrics=metrics,
        # Eureka clients that are not Matinee's (py-eureka-client, Prometheus) must reach it.
        require_identity=False,
    )
    app.state.registry = registry
    app.state.evict_once = evict_once
    app.state.save_snapshot = save_snapshot
    return app
