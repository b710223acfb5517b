"""Composition root of a CDN node: wiring only.

Like the gateway, a node is two things in one process: the delivery handler
(``api/delivery.py``) on the fast server core, which answers signed object requests
itself, and the chassis's Starlette app for everything else (``/node``, the admin
API, health, metrics) and the lifespan (registration with region, ISP and capacity,
the cache index, the load sampler). ``create_app()`` returns a :class:`CdnApp`; the
runner calls its ``serve(sock)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from matinee.platform.discovery import Discovery, RegistryDiscovery
from matinee.platform.http import CallPolicy, HttpPool, ServiceClient, Transport
from matinee.platform.httpserver import AsgiBridge, ServedApp, ServerLimits
from matinee.platform.service import create_service_app
from matinee.platform.telemetry import Metrics
from matinee.platform.urlsign import UrlSigner
from matinee.services.cdn import SPEC
from matinee.services.cdn.api import Delivery, build_router
from matinee.services.cdn.domain import LoadMeter, Origin
from matinee.services.cdn.node import CdnNode, NodeIdentity
from matinee.services.cdn.settings import CdnSettings
from matinee.services.cdn.storage import DiskCache, MediaOrigin
from matinee.services.media.client import MediaClient

__all__ = ["CdnApp", "create_app"]


class CdnApp(ServedApp):
    """Delivery plus the chassis app it falls back to; ``await serve(sock)`` runs both."""

    def __init__(
        self,
        node: CdnNode,
        delivery: Delivery,
        asgi: Starlette,
        bridge: AsgiBridge,
        settings: CdnSettings,
    ) -> None:
        super().__init__(delivery, asgi, bridge, ServerLimits(idle_timeout=settings.idle_timeout))
        self.node = node
        self.delivery = delivery
        self.settings = settings


def create_app(
    settings: CdnSettings | None = None,
    *,
    discovery: Discovery | None = None,
    transport: Transport | None = None,
    origin: Origin | None = None,
) -> CdnApp:
    """Build a node; tests pass a fake discovery and transport, or a fake ``origin``."""
    settings = settings or CdnSettings()
    node_id = settings.resolved_instance_id(SPEC.name)
    region, isp = settings.placement()
    # The registration carries the node's place: steering reads region and zone from it.
    settings = settings.model_copy(
        update={"region": region, "zone": f"{region}-{isp}", "instance_id": node_id}
    )
    if discovery is None and settings.port:
        discovery = RegistryDiscovery.from_settings(settings)
    pool = HttpPool()
    metrics = Metrics()
    if origin is None:
        if discovery is None:
            raise ValueError("a node needs a discovery (to find media) or an origin")
        media = MediaClient(
            ServiceClient(
                "media",
                resolver=discovery,
                transport=transport if transport is not None else pool,
                metrics=metrics,
                policy=CallPolicy(timeout=settings.fill_timeout),
            )
        )
        origin = MediaOrigin(media)
    cache = DiskCache(
        settings.cache_path(node_id),
        settings.capacity_bytes,
        memory_bytes=settings.memory_bytes,
        small_object_bytes=settings.small_object_bytes,
    )
    meter = LoadMeter()
    node = CdnNode(NodeIdentity(node_id, region, isp), cache, origin, meter=meter)

    async def cache_ready() -> None:
        if not cache.healthy():
            raise RuntimeError(f"cache directory {cache.root} is not writable")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(cache.start)

        async def sample() -> None:
            while True:
                meter.sample(time.monotonic())
                await asyncio.sleep(1.0)

        sampler = asyncio.create_task(sample())
        try:
            yield
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            await node.close()
            await pool.close()

    chassis = create_service_app(
        SPEC,
        settings,
        routers=[
            build_router(
                node, window_s=settings.prefill_window_s, rate_mbps=settings.prefill_rate_mbps
            )
        ],
        lifespan=lifespan,
        readiness={"cache": cache_ready},
        discovery=discovery,
        metrics=metrics,
        instance_metadata={"isp": isp, "capacity_bytes": str(settings.capacity_bytes)},
    )
    bridge = AsgiBridge(chassis)
    delivery = Delivery(
        node,
        UrlSigner(settings.url_secret),
        local=bridge,
        stall_timeout=settings.stall_timeout,
        metrics=metrics,
    )
    return CdnApp(node, delivery, chassis, bridge, settings)
