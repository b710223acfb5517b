"""Composition root of the registry: wiring only (DESIGN.md, one composition root).

With peers (``MATINEE_REGISTRY_PEERS``) the registry replicates every accepted client
write to them and, at start, takes the whole registry from the first peer that
answers; reads wait for that sync (a few milliseconds; at most the sync timeout).
When no peer answers it serves at once from its lease snapshot: peers that come up
later sync from it, and a peer that comes back is sent every record it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from matinee.platform.discovery import Status
from matinee.platform.http import HttpPool, Transport
from matinee.platform.service import create_service_app
from matinee.platform.telemetry.metrics import Metrics
from matinee.services.registry import SPEC
from matinee.services.registry.api import RegistryEvents, build_router
from matinee.services.registry.domain import InstanceRecord, PreservationPolicy, Registry
from matinee.services.registry.local import LocalDiscovery
from matinee.services.registry.replication import Replicator
from matinee.services.registry.settings import RegistrySettings
from matinee.services.registry.storage import SnapshotStore

__all__ = ["create_app"]

log = logging.getLogger("matinee.registry")


def _snapshot_name(settings: RegistrySettings) -> str:
    # Peers share a data dir under `matinee up`: each keeps its own file, named by its
    # (stable) instance id; a lone registry without one keeps the plain name.
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", settings.instance_id)
    return f"leases-{safe}.json" if safe else "leases.json"


def create_app(
    settings: RegistrySettings | None = None,
    *,
    clock: Callable[[], float] | None = None,
    snapshots: SnapshotStore | None = None,
    background: bool = True,
    peer_transport: Transport | None = None,
) -> Starlette:
    """Build the registry; tests pass a fake ``clock`` and drive eviction themselves.

    ``peer_transport`` carries replication and the start-up sync (tests pass fakes or
    another registry's app in-process); without one, the registry opens its own pool.
    """
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
        snapshots = SnapshotStore(settings.service_dir(SPEC.name) / _snapshot_name(settings))
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

    replicator: Replicator | None = None
    own_pool: HttpPool | None = None
    warm: asyncio.Event | None = None
    if settings.peer_urls:
        if peer_transport is None:
            peer_transport = own_pool = HttpPool(limit_per_host=16)
        replicator = Replicator(
            settings.peer_urls,
            registry,
            transport=peer_transport,
            metrics=metrics,
            timeout=settings.registry_replication_timeout,
            retries=settings.registry_replication_retries,
            retry_interval=settings.registry_peer_retry_interval,
            queue_size=settings.registry_replication_queue,
            sync_timeout=settings.registry_peer_sync_timeout,
        )
        warm = asyncio.Event()

    async def restore_snapshot() -> None:
        loaded = registry.restore(await asyncio.to_thread(snapshots.load))
        if loaded:
            log.info("restored %d leases from %s", loaded, snapshots.path)

    async def warm_up(peers: Replicator, done: asyncio.Event) -> None:
        # Eureka's sync on start-up. A peer's registry is fresher than our snapshot
        # (it kept hearing heartbeats while we were down), so the snapshot is only
        # the fallback for when no peer answers.
        try:
            records = await peers.sync()
            if records is None:
                log.info("no peer answered the start-up sync; serving from the snapshot")
                await restore_snapshot()
            else:
                taken = registry.adopt(records)
                log.info("took %d of %d records from a peer", taken, len(records))
            observe()
        finally:
            done.set()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        if replicator is None or warm is None:
            await restore_snapshot()
            observe()
        else:
            replicator.start()
            tasks.append(asyncio.create_task(warm_up(replicator, warm)))
        if background:
            tasks += [
                asyncio.create_task(every(settings.registry_eviction_interval, evict_once)),
                asyncio.create_task(every(settings.registry_snapshot_interval, save_snapshot)),
            ]
            if replicator is not None:
                # No client heartbeats the registry's own record: it renews it at its peers.
                interval = settings.lease_renewal_interval
                tasks.append(asyncio.create_task(every(interval, replicator.heartbeat_own)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if replicator is not None:
                await replicator.stop()
            if own_pool is not None:
                await own_pool.close()
            await save_snapshot()

    events = RegistryEvents(
        on_register=lambda record: registrations.labels(record.app).inc(),
        on_renew=lambda known: renewals.labels("ok" if known else "unknown").inc(),
        on_cancel=lambda record: cancels.inc(),
    )
    routers = [
        build_router(
            registry,
            max_body=settings.registry_max_body,
            events=events,
            prefix=prefix,
            replication=replicator,
            warm=warm,
        )
        # Netflix's own clients default to /eureka/v2.
        for prefix in ("/eureka", "/eureka/v2")
    ]
    app = create_service_app(
        SPEC,
        settings,
        routers=routers,
        lifespan=lifespan,
        discovery=LocalDiscovery(registry, replication=replicator),
        metrics=metrics,
        # Eureka clients that are not Matinee's (py-eureka-client, Prometheus) must reach it.
        require_identity=False,
    )
    app.state.registry = registry
    app.state.replicator = replicator
    app.state.warm = warm
    app.state.evict_once = evict_once
    app.state.save_snapshot = save_snapshot
    return app
