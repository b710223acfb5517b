"""Composition root of media: wiring only (DESIGN.md, one composition root)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from matinee.platform.discovery import Discovery, RegistryDiscovery
from matinee.platform.events import DeferredBus, EventBus
from matinee.platform.service import ReadinessCheck, create_service_app
from matinee.platform.storage import Database
from matinee.services.media import SPEC
from matinee.services.media.api import build_router
from matinee.services.media.ffmpeg import Ffmpeg
from matinee.services.media.ingest import Ingestor
from matinee.services.media.settings import MediaSettings
from matinee.services.media.storage import MIGRATIONS, OriginStore, SqlJobs
from matinee.services.media.worker import Encoder, Worker, WorkerPolicy

__all__ = ["build_worker", "create_app", "open_database"]


def open_database(settings: MediaSettings) -> Database:
    """Return media's database (SQLite under the data dir, or its PostgreSQL)."""
    return Database.for_service(
        SPEC.name, database_url=settings.database_url, data_dir=settings.data_dir
    )


def build_worker(
    settings: MediaSettings,
    database: Database,
    *,
    encoder: Encoder | None = None,
    events: EventBus | None = None,
) -> Worker:
    """Return a worker on media's queue and origin store (the service's and the CLI's)."""
    policy = WorkerPolicy(
        max_attempts=settings.max_attempts,
        retry_backoff=settings.retry_backoff,
        stale_after=settings.stale_after,
        heartbeat_interval=settings.heartbeat_interval,
        poll_interval=settings.poll_interval,
        segment_seconds=settings.segment_seconds,
    )
    encoder = encoder or Ffmpeg.locate(settings.ffmpeg, segment_seconds=settings.segment_seconds)
    return Worker(
        SqlJobs(database),
        OriginStore(settings.origin_path),
        encoder,
        events=events,
        policy=policy,
        name=settings.resolved_instance_id(SPEC.name),
    )


def create_app(
    settings: MediaSettings | None = None,
    *,
    database: Database | None = None,
    encoder: Encoder | None = None,
    discovery: Discovery | None = None,
    events: EventBus | None = None,
) -> Starlette:
    """Build media; tests pass fakes (``encoder``, ``events``) instead of the real adapters."""
    settings = settings or MediaSettings()
    database = database or open_database(settings)
    if discovery is None and settings.port:
        discovery = RegistryDiscovery.from_settings(settings)
    deferred: DeferredBus | None = None
    if events is None and settings.nats_url:
        events = deferred = DeferredBus(settings.nats_url, service=SPEC.name)
    worker = build_worker(settings, database, encoder=encoder, events=events)
    ingestor = Ingestor(worker.jobs, worker.encoder, settings.allowed_roots, on_queued=worker.wake)
    readiness: dict[str, ReadinessCheck] = {"database": database.check}
    if events is not None:
        readiness["events"] = events.check

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker.origin.start()
        await database.start(MIGRATIONS)
        if deferred is not None:
            await deferred.start()
        tasks = [asyncio.create_task(worker.run(slot)) for slot in range(settings.workers)]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                # A cancelled encode kills its ffmpeg and leaves its job to be resumed.
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if deferred is not None:
                await deferred.close()
            await database.close()

    app = create_service_app(
        SPEC,
        settings,
        routers=[build_router(ingestor, worker.jobs, worker.origin)],
        lifespan=lifespan,
        readiness=readiness,
        discovery=discovery,
    )
    app.state.worker = worker
    return app
