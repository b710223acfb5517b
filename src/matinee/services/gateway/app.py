"""Composition root of the gateway: wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from matinee.platform.discovery import Discovery, RegistryDiscovery
from matinee.platform.http import CallPolicy, HttpPool, ServiceClient, Transport
from matinee.platform.service import create_service_app
from matinee.platform.telemetry import Metrics
from matinee.services.catalog.client import CatalogClient
from matinee.services.gateway import SPEC
from matinee.services.gateway.api import build_router
from matinee.services.gateway.settings import GatewaySettings

__all__ = ["create_app"]


def create_app(
    settings: GatewaySettings | None = None,
    *,
    discovery: Discovery | None = None,
    transport: Transport | None = None,
) -> Starlette:
    """Build the gateway; tests pass a fake discovery and transport."""
    settings = settings or GatewaySettings()
    discovery = discovery or RegistryDiscovery.from_settings(settings)
    pool = HttpPool()  # opens its session lazily, so an unused one costs nothing
    upstream: Transport = transport if transport is not None else pool
    metrics = Metrics()
    catalog = CatalogClient(
        ServiceClient(
            "catalog",
            resolver=discovery,
            transport=upstream,
            metrics=metrics,
            policy=CallPolicy(timeout=settings.catalog_timeout),
        )
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await pool.close()

    return create_service_app(
        SPEC,
        settings,
        routers=[build_router(catalog)],
        lifespan=lifespan,
        discovery=discovery,
        metrics=metrics,
        # The edge is where identities come from: devices reach it without one.
        require_identity=False,
    )
