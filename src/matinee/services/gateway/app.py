"""Composition root of the gateway: wiring only.

The gateway is two things in one process: the edge (``api/edge.py``), which runs
on the fast server core (``platform/httpserver``) and answers the route table's
routes itself, and the chassis's Starlette app, which gets everything else
(``/healthz``, ``/readyz``, ``/metrics``, the composite ``/api/home``) and runs the
lifespan (registration, the JWKS refresher). ``create_app()`` returns a
:class:`GatewayApp`; the runner calls its ``serve(sock)``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from matinee.platform.api import Router
from matinee.platform.discovery import Discovery, RegistryDiscovery
from matinee.platform.http import CallPolicy, HttpPool, ServiceClient, Transport
from matinee.platform.httpserver import AsgiBridge, ServedApp, ServerLimits, UpstreamPool
from matinee.platform.identity import IdentitySigner, reset_forwarded, set_forwarded
from matinee.platform.service import create_service_app
from matinee.platform.telemetry import Metrics
from matinee.services.catalog.client import CatalogClient
from matinee.services.gateway import SPEC
from matinee.services.gateway.api import EDGE_IDENTITY_HEADER_KEY, Edge, EdgeStats, Upstreams
from matinee.services.gateway.api.home import build_home_router
from matinee.services.gateway.api.openapi import build_openapi_router
from matinee.services.gateway.api.web import build_web_routes
from matinee.services.gateway.domain import CorsPolicy, RouteTable, TokenAuthority, load_route_table
from matinee.services.gateway.settings import GatewaySettings
from matinee.services.users.client import UsersClient

__all__ = ["GatewayApp", "create_app"]

FetchJwks = Callable[[], Awaitable[Mapping[str, Any]]]


class GatewayApp(ServedApp):
    """The edge plus the chassis app it falls back to; ``await serve(sock)`` runs both."""

    def __init__(self, edge: Edge, asgi: Starlette, bridge: AsgiBridge, settings: GatewaySettings):
        limits = ServerLimits(
            max_header_bytes=settings.max_header_bytes, idle_timeout=settings.idle_timeout
        )
        super().__init__(edge, asgi, bridge, limits, on_loop=edge.bind)
        self.edge = edge
        self.settings = settings


class _ForwardEdgeIdentity:
    """Outgoing calls of a local route carry the caller's identity signed by the edge."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = scope.get(EDGE_IDENTITY_HEADER_KEY)
        if header is None:
            await self.app(scope, receive, send)
            return
        token = set_forwarded(header)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_forwarded(token)


def composite_routers(
    settings: GatewaySettings,
    table: RouteTable,
    *,
    catalog: CatalogClient,
    users: UsersClient,
    client: Callable[[str], ServiceClient],
) -> list[Router]:
    """Return the gateway's own routes (served by its chassis app, not proxied).

    The route table sends ``/api/home`` and ``/api/openapi.json`` here; the OpenAPI
    document merges the documents of every service the table routes to.
    """

    def document(service: str) -> FetchJwks:
        http = client(service)

        async def fetch() -> Mapping[str, Any]:
            doc: Mapping[str, Any] = (
                (await http.request("GET", "/openapi.json")).raise_for_status().json()
            )
            return doc

        return fetch

    services = sorted({route.service for route in table.routes if not route.local})
    return [
        build_home_router(catalog, users),
        build_openapi_router(
            table, {name: document(name) for name in services}, version=settings.version
        ),
    ]


def create_app(
    settings: GatewaySettings | None = None,
    *,
    discovery: Discovery | None = None,
    transport: Transport | None = None,
    jwks: FetchJwks | None = None,
    routes: RouteTable | None = None,
) -> GatewayApp:
    """Build the gateway; tests pass a fake discovery, transport and JWKS source."""
    settings = settings or GatewaySettings()
    discovery = discovery or RegistryDiscovery.from_settings(settings)
    pool = HttpPool()  # for the composite routes' clients; opens its session lazily
    upstream: Transport = transport if transport is not None else pool
    metrics = Metrics()

    def client(service: str, timeout: float) -> ServiceClient:
        return ServiceClient(
            service,
            resolver=discovery,
            transport=upstream,
            metrics=metrics,
            policy=CallPolicy(timeout=timeout),
        )

    catalog = CatalogClient(client("catalog", settings.catalog_timeout))
    users = UsersClient(client("users", 2.0))
    table = routes or load_route_table(settings.routes_file)
    tokens = TokenAuthority(
        jwks or users.jwks,
        cache_size=settings.token_cache_size,
        refresh_interval=settings.jwks_refresh_interval,
        min_refresh_gap=settings.jwks_min_refresh_gap,
    )
    stats = EdgeStats()
    metrics.registry.register(stats)
    connections = UpstreamPool(
        idle_timeout=settings.upstream_idle_timeout,
        connect_timeout=settings.upstream_connect_timeout,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        refresher = asyncio.create_task(tokens.run())
        try:
            yield
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await connections.close()
            await pool.close()

    chassis = create_service_app(
        SPEC,
        settings,
        routers=composite_routers(
            settings,
            table,
            catalog=catalog,
            users=users,
            client=lambda service: client(service, 2.0),
        ),
        # The viewer web app: every path outside /api/ and the route table comes here.
        routes=build_web_routes(),
        lifespan=lifespan,
        discovery=discovery,
        metrics=metrics,
        # The edge is where identities come from: devices reach it without one.
        require_identity=False,
    )
    bridge = AsgiBridge(_ForwardEdgeIdentity(chassis))
    own_origin = f"http://{settings.host}:{settings.port}" if settings.port else ""
    edge = Edge(
        table,
        upstreams=Upstreams(discovery, connections),
        tokens=tokens,
        signer=IdentitySigner(settings.internal_secret, service=SPEC.name),
        local=bridge,
        cors=CorsPolicy([*settings.cors_origins, own_origin]),
        stats=stats,
        rate_limit_scale=settings.rate_limit_scale,
        trusted_proxies=settings.trusted_proxies,
        behind_tls=settings.behind_tls,
        max_attempts=settings.max_attempts,
    )
    return GatewayApp(edge, chassis, bridge, settings)
