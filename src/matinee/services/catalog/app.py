"""Composition root of catalog: wiring only (DESIGN.md, one composition root)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from matinee.platform.discovery import Discovery, RegistryDiscovery
from matinee.platform.events import DeferredBus, EventBus
from matinee.platform.service import ReadinessCheck, create_service_app
from matinee.platform.storage import Database
from matinee.services.catalog import SPEC
from matinee.services.catalog.api import build_router
from matinee.services.catalog.domain.memory import InMemoryLists, InMemoryTitles
from matinee.services.catalog.domain.model import ListRepository, TitleRepository
from matinee.services.catalog.settings import CatalogSettings
from matinee.services.catalog.storage import MIGRATIONS, SqlLists, SqlTitles

__all__ = ["create_app"]


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
        try:
            yield
        finally:
            if deferred is not None:
                await deferred.close()
            if database is not None:
                await database.close()

    return create_service_app(
        SPEC,
        settings,
        routers=[build_router(titles, lists, events)],
        lifespan=lifespan,
        readiness=readiness,
        discovery=discovery,
    )
