"""Composition root of playback: wiring only, plus its background tasks.

Background: the CDN node poller (steering's view), the lease sweeper (expires the
leases of clients that vanished) and the event feeds from media and catalog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette

from matinee.platform.discovery import Discovery, RegistryDiscovery
from matinee.platform.events import DeferredBus, EventBus, Subscription
from matinee.platform.http import HttpPool
from matinee.platform.service import ReadinessCheck, create_service_app
from matinee.platform.storage import Database
from matinee.platform.urlsign import UrlSigner
from matinee.services.playback import SPEC
from matinee.services.playback.api import build_router
from matinee.services.playback.domain.ports import Nodes, PlaybackStore
from matinee.services.playback.domain.service import PlaybackPolicy, PlaybackService
from matinee.services.playback.events import event_for
from matinee.services.playback.settings import PlaybackSettings
from matinee.services.playback.storage import (
    MIGRATIONS,
    NodePoller,
    SqlPlaybackStore,
    follow_assets,
    follow_titles,
)

__all__ = ["Outbox", "create_app"]

log = logging.getLogger("matinee.playback")


class Outbox:
    """Publishes events off the request path; a bus that is down costs a log line, not a start."""

    def __init__(self, bus: EventBus | None) -> None:
        self.bus = bus
        self._pending: set[asyncio.Task[None]] = set()

    def publish(self, kind: str, fields: Mapping[str, Any]) -> None:
        """Queue the ``matinee.playback.<kind>`` event for publishing."""
        if self.bus is None:
            return
        event = event_for(kind, fields)
        task = asyncio.get_running_loop().create_task(self._send(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, event: Any) -> None:
        assert self.bus is not None
        try:
            await self.bus.publish(event)
        except Exception as exc:
            log.warning("could not publish %s: %s", event.type, exc)

    async def drain(self) -> None:
        """Wait until every queued event is published (or given up on)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)


def create_app(
    settings: PlaybackSettings | None = None,
    *,
    store: PlaybackStore | None = None,
    nodes: Nodes | None = None,
    discovery: Discovery | None = None,
    events: EventBus | None = None,
) -> Starlette:
    """Build playback; tests pass fakes (``store``, ``nodes``, ``events``) for the real adapters."""
    settings = settings or PlaybackSettings()
    database: Database | None = None
    if store is None:
        database = Database.for_service(
            SPEC.name, database_url=settings.database_url, data_dir=settings.data_dir
        )
        store = SqlPlaybackStore(database)
    if discovery is None and settings.port:
        discovery = RegistryDiscovery.from_settings(settings)
    deferred: DeferredBus | None = None
    if events is None and settings.nats_url:
        events = deferred = DeferredBus(settings.nats_url, service=SPEC.name)
    pool: HttpPool | None = None
    poller: NodePoller | None = None
    if nodes is None:
        if discovery is not None:
            pool = HttpPool(connect_timeout=0.5)
            poller = NodePoller(discovery, pool, interval=settings.node_poll_interval)
            nodes = poller.nodes
        else:
            nodes = list
    outbox = Outbox(events)
    policy = PlaybackPolicy(
        lease_ttl_s=settings.lease_ttl,
        url_ttl_s=settings.url_ttl,
        default_region=settings.default_region,
    )
    service = PlaybackService(
        store, nodes, UrlSigner(settings.url_secret), outbox.publish, policy=policy
    )
    readiness: dict[str, ReadinessCheck] = {}
    if database is not None:
        readiness["database"] = database.check
    if events is not None:
        readiness["events"] = events.check

    async def sweep() -> None:
        while True:
            await asyncio.sleep(min(policy.lease_ttl_s / 4, 5.0))
            try:
                await service.expire_stale()
            except Exception as exc:  # the database may be away for a while
                log.warning("expiring stale leases failed: %s", exc)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if database is not None:
            await database.start(MIGRATIONS)
        if deferred is not None:
            await deferred.start()
        subscriptions: list[Subscription] = []
        if events is not None:
            subscriptions += [
                await follow_assets(events, store),
                await follow_titles(events, store),
            ]
        jobs: list[Coroutine[Any, Any, None]] = [sweep()]
        if poller is not None:
            jobs.append(poller.run())
        tasks = [asyncio.create_task(job) for job in jobs]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for sub in subscriptions:
                with contextlib.suppress(Exception):
                    await sub.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(outbox.drain(), 5.0)
            if deferred is not None:
                await deferred.close()
            if pool is not None:
                await pool.close()
            if database is not None:
                await database.close()

    app = create_service_app(
        SPEC,
        settings,
        routers=[build_router(service)],
        lifespan=lifespan,
        readiness=readiness,
        discovery=discovery,
    )
    app.state.service = service
    app.state.outbox = outbox
    app.state.store = store
    app.state.poller = poller
    return app
