"""Composition root of catalog: wiring only (DESIGN.md, one composition root)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from matinee.platform.discovery import Discovery, RegistryDiscovery
from matinee.platform.events import DeferredBus, EventBus, Subscription
from matinee.platform.service import ReadinessCheck, create_service_app
from matinee.platform.storage import Database
from matinee.services.catalog import SPEC
from matinee.services.catalog.api import build_router
from matinee.services.catalog.cache import CachedTitles, TitleDocuments, serve_title_documents
from matinee.services.catalog.domain.memory import InMemoryLists, InMemoryTitles
from matinee.services.catalog.domain.model import ListRepository, TitleNotFound, TitleRepository
from matinee.services.catalog.events import TitleUpserted
from matinee.services.catalog.settings import CatalogSettings
from matinee.services.catalog.storage import MIGRATIONS, SqlLists, SqlTitles
from matinee.services.media.events import AssetReady

__all__ = ["create_app", "follow_assets"]

log = logging.getLogger("matinee.catalog")


async def follow_assets(bus: EventBus, titles: TitleRepository) -> Subscription:
    """Set a title's ``asset_ref`` when media announces its asset ready (and announce it)."""

    async def on_asset(event: AssetReady) -> None:
        try:
            title = await titles.get(event.title_id)
        except TitleNotFound:
            log.warning("asset %s is for unknown title %d", event.asset_id, event.title_id)
            return
        if title.asset_ref == event.asset_id:
            return  # a redelivery, or set by the seed already
        title = dataclasses.replace(title, asset_ref=event.asset_id)
        await titles.upsert(title)
        await bus.publish(TitleUpserted.of(title))

    return await bus.subscribe(AssetReady.type, "catalog-assets", on_asset, schemas=[AssetReady])


def create_app(
    settings: CatalogSettings | None = None,
    *,
    titles: TitleRepository | None = None,
    lists: ListRepository | None = None,
    discovery: Discovery | None = None,
    events: EventBus | None = None,
) -> Starlette:
    """Build catalog; tests pass fakes (``titles``, ``lists``, ``events``) for the real adapters."""
    settings = settings or CatalogSettings()
    database: Database | None = None
    if lists is None and isinstance(titles, InMemoryTitles):
        lists = InMemoryLists(titles)
    if titles is None or lists is None:
        database = Database.for_service(
            SPEC.name, database_url=settings.database_url, data_dir=settings.data_dir
        )
        titles = titles or SqlTitles(database.engine)
        lists = lists or SqlLists(database.engine)
    # Title documents are read through a short-lived cache; writes through ``titles`` evict.
    documents = TitleDocuments()
    titles = CachedTitles(titles, documents)
    if discovery is None and settings.port:
        discovery = RegistryDiscovery.from_settings(settings)
    deferred: DeferredBus | None = None
    if events is None and settings.nats_url:
        events = deferred = DeferredBus(settings.nats_url, service=SPEC.name)
    readiness: dict[str, ReadinessCheck] = {}
    if database is not None:
        readiness["database"] = database.check
    if events is not None:
        readiness["events"] = events.check

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if database is not None:
            await database.start(MIGRATIONS)
        if deferred is not None:
            await deferred.start()
        subscription = await follow_assets(events, titles) if events is not None else None
        try:
            yield
        finally:
            if subscription is not None:
                await subscription.stop()
            if deferred is not None:
                await deferred.close()
            if database is not None:
                await database.close()

    router = build_router(titles, lists, events)
    serve_title_documents(router, documents)
    return create_service_app(
        SPEC,
        settings,
        routers=[router],
        lifespan=lifespan,
        readiness=readiness,
        discovery=discovery,
    )
