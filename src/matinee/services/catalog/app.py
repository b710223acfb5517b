"""Composition root of catalog: wiring only (DESIGN.md, one composition root)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from matinee.platform.discovery import Discovery, RegistryDiscovery
from matinee.platform.service import create_service_app
from matinee.platform.storage import Database
from matinee.services.catalog import SPEC
from matinee.services.catalog.api import build_router
from matinee.services.catalog.domain.model import TitleRepository
from matinee.services.catalog.settings import CatalogSettings
from matinee.services.catalog.storage import MIGRATIONS, SqlTitles

__all__ = ["create_app"]


def create_app(
    settings: CatalogSettings | None = None,
    *,
    titles: TitleRepository | None = None,
    discovery: Discovery | None = None,
) -> Starlette:
    """Build catalog; pass ``titles`` (a fake) to run without a database."""
    settings = settings or CatalogSettings()
    database: Database | None = None
    if titles is None:
        database = Database.for_service(
            SPEC.name, database_url=settings.database_url, data_dir=settings.data_dir
        )
        titles = SqlTitles(database.engine)
    if discovery is None and settings.port:
        discovery = RegistryDiscovery.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if database is not None:
            await database.start(MIGRATIONS)
        try:
            yield
        finally:
            if database is not None:
                await database.close()

    return create_service_app(
        SPEC,
        settings,
        routers=[build_router(titles)],
        lifespan=lifespan,
        readiness={"database": database.check} if database is not None else None,
        discovery=discovery,
    )
