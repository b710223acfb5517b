"""Eureka's REST API over the lease table, plus a JSON status page.

| route | Eureka meaning |
|---|---|
| ``POST /eureka/apps/{APP}`` | register (204) |
| ``PUT /eureka/apps/{APP}/{id}`` | renew; 404 makes the client re-register |
| ``DELETE /eureka/apps/{APP}/{id}`` | cancel |
| ``GET /eureka/apps`` | full registry, ETag / 304 on ``If-None-Match`` |
| ``GET /eureka/apps/delta`` | instances changed recently, each with ``actionType`` |
| ``PUT|DELETE /eureka/apps/{APP}/{id}/status?value=S`` | set or clear a status override |
| ``GET /eureka/status`` | lease counts and self-preservation, as JSON |
| ``GET /eureka/peerreplication/leases`` | (peers) every lease, exactly, for the start-up sync |

A write carrying ``x-netflix-discovery-replication: true`` comes from a peer: it is
applied (a registration only if it is not older than ours) and not replicated again.
Every other accepted write is handed to ``replication``, which never makes it wait.
Reads wait for ``warm`` (the start-up sync from a peer) unless a peer asks.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response

from matinee.platform.api import Router
from matinee.platform.discovery import Status
from matinee.platform.errors import BadRequest, NotFound, PayloadTooLarge
from matinee.services.registry.api.schemas import parse_registration
from matinee.services.registry.api.wire import (
    JSON,
    REPLICATION_HEADER,
    is_replicated,
    negotiate,
    render_app,
    render_apps,
    render_instance,
)
from matinee.services.registry.domain import InstanceRecord, Registry

__all__ = ["NoReplication", "RegistryEvents", "Replication", "build_router"]


class Replication(Protocol):
    """Where accepted client writes go to reach the peers (``replication.Replicator``)."""

    def register(self, record: InstanceRecord) -> None: ...

    def renew(self, app: str, instance_id: str) -> None: ...

    def cancel(self, app: str, instance_id: str) -> None: ...

    def set_status(self, app: str, instance_id: str, status: Status) -> None: ...

    def clear_status(self, app: str, instance_id: str, status: Status | None) -> None: ...

    def nudge(self) -> None: ...

    def describe(self) -> list[dict[str, object]]: ...


class NoReplication:
    """A registry without peers: every hook does nothing."""

    def register(self, record: InstanceRecord) -> None:
        """Do nothing."""

    def renew(self, app: str, instance_id: str) -> None:
        """Do nothing."""

    def cancel(self, app: str, instance_id: str) -> None:
        """Do nothing."""

    def set_status(self, app: str, instance_id: str, status: Status) -> None:
        """Do nothing."""

    def clear_status(self, app: str, instance_id: str, status: Status | None) -> None:
        """Do nothing."""

    def nudge(self) -> None:
        """Do nothing."""

    def describe(self) -> list[dict[str, object]]:
        """Return no peers."""
        return []


class RegistryEvents:
    """Hooks the app wires to metrics; the defaults do nothing."""

    def __init__(
        self,
        on_register: Callable[[InstanceRecord], None] | None = None,
        on_renew: Callable[[bool], None] | None = None,
        on_cancel: Callable[[InstanceRecord], None] | None = None,
    ) -> None:
        self.on_register = on_register or (lambda record: None)
        self.on_renew = on_renew or (lambda known: None)
        self.on_cancel = on_cancel or (lambda record: None)


def build_router(
    registry: Registry,
    *,
    max_body: int = 64 * 1024,
    events: RegistryEvents | None = None,
    prefix: str = "/eureka",
    replication: Replication | None = None,
    warm: asyncio.Event | None = None,
) -> Router:
    """Return the Eureka routes bound to ``registry`` (and to its peers, if any)."""
    router = Router(prefix=prefix, tags=["eureka"])
    hooks = events or RegistryEvents()
    peers = replication or NoReplication()
    # A new epoch per process: an ETag from before a restart never matches.
    epoch = secrets.token_hex(4)
    cache: dict[str, tuple[int, bytes]] = {}

    def body_of_apps(media: str) -> bytes:
        cached = cache.get(media)
        if cached is not None and cached[0] == registry.version:
            return cached[1]
        body = render_apps(registry.applications(), registry.version, registry.hashcode(), media)
        cache[media] = (registry.version, body)
        return body

    def found(app: str, instance_id: str) -> InstanceRecord:
        record = registry.get(app, instance_id)
        if record is None:
            raise NotFound(f"instance {instance_id[:120]!r} of {app[:80]!r} is not registered")
        return record

    def status_value(value: str | None) -> Status:
        try:
            return Status((value or "").upper())
        except ValueError:
            allowed = ", ".join(s.value for s in Status)
            raise BadRequest(f"status must be one of {allowed}") from None

    def path(request: Request) -> tuple[str, str]:
        params = request.path_params
        return str(params.get("app", "")), str(params.get("instance_id", ""))

    def from_peer(request: Request) -> bool:
        if is_replicated(request.headers.get(REPLICATION_HEADER)):
            peers.nudge()  # a peer that calls is up, whatever we last thought
            return True
        return False

    async def settled(request: Request) -> None:
        # Clients read only once the start-up sync is done (it is bounded); peers never
        # wait, or two registries starting together would wait for each other.
        if warm is not None and not warm.is_set() and not from_peer(request):
            await warm.wait()

    @router.get("/apps")
    async def applications(request: Request) -> Response:
        """Return the whole registry; 304 when ``If-None-Match`` matches."""
        await settled(request)
        media = negotiate(request.headers.get("accept"))
        etag = f'"{epoch}-{registry.version}-{"j" if media == JSON else "x"}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body_of_apps(media), media_type=media, headers=headers)

    @router.get("/apps/delta")
    async def delta(request: Request) -> Response:
        """Return the instances changed within the retention window."""
        await settled(request)
        media = negotiate(request.headers.get("accept"))
        grouped: dict[str, list[InstanceRecord]] = {}
        for record in registry.delta():
            grouped.setdefault(record.app, []).append(record)
        body = render_apps(grouped, registry.version, registry.hashcode(), media)
        return Response(body, media_type=media)

    # Declared after /apps/delta: routes match in order and {app} would swallow it.
    @router.post("/apps/{app}", max_body=max_body)
    async def register(request: Request) -> Response:
        """Register an instance (Eureka JSON or XML body)."""
        app, _ = path(request)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body:
            raise PayloadTooLarge(f"registration larger than {max_body} bytes")
        body = await request.body()
        if len(body) > max_body:
            raise PayloadTooLarge(f"registration larger than {max_body} bytes")
        record = parse_registration(body, request.headers.get("content-type", ""), app)
        if from_peer(request):
            replica = registry.register_replica(record)
            if replica is not None:
                hooks.on_register(replica)
            return Response(status_code=204)
        stored = registry.register(record)
        hooks.on_register(stored)
        peers.register(stored)
        return Response(status_code=204)

    @router.get("/apps/{app}")
    async def application(request: Request) -> Response:
        """Return one application and its instances."""
        await settled(request)
        app, _ = path(request)
        records = registry.applications().get(app.upper())
        if not records:
            raise NotFound(f"no instance of {app[:80]!r} is registered")
        media = negotiate(request.headers.get("accept"))
        return Response(render_app(app.upper(), records, media), media_type=media)

    @router.get("/apps/{app}/{instance_id}")
    async def instance(request: Request) -> Response:
        """Return one instance."""
        await settled(request)
        app, instance_id = path(request)
        media = negotiate(request.headers.get("accept"))
        return Response(render_instance(found(app, instance_id), media), media_type=media)

    @router.get("/instances/{instance_id}")
    async def instance_by_id(request: Request) -> Response:
        """Return one instance, whatever its app."""
        await settled(request)
        instance_id = str(request.path_params["instance_id"])
        record = registry.find(instance_id)
        if record is None:
            raise NotFound(f"instance {instance_id[:120]!r} is not registered")
        media = negotiate(request.headers.get("accept"))
        return Response(render_instance(record, media), media_type=media)

    @router.put("/apps/{app}/{instance_id}")
    async def renew(request: Request) -> Response:
        """Renew a lease; 404 tells the client to register again."""
        app, instance_id = path(request)
        known = registry.renew(app, instance_id)
        hooks.on_renew(known)
        if not known:
            raise NotFound(f"instance {instance_id[:120]!r} of {app[:80]!r} is not registered")
        if not from_peer(request):
            peers.renew(app.upper(), instance_id)
        return Response(status_code=200)

    @router.delete("/apps/{app}/{instance_id}")
    async def cancel(request: Request) -> Response:
        """Cancel a lease (the instance is shutting down)."""
        app, instance_id = path(request)
        removed = registry.cancel(app, instance_id)
        if removed is None:
            raise NotFound(f"instance {instance_id[:120]!r} of {app[:80]!r} is not registered")
        hooks.on_cancel(removed)
        if not from_peer(request):
            peers.cancel(removed.app, instance_id)
        return Response(status_code=200)

    @router.put("/apps/{app}/{instance_id}/status")
    async def set_status(request: Request) -> Response:
        """Override the status clients see (``?value=OUT_OF_SERVICE``)."""
        app, instance_id = path(request)
        status = status_value(request.query_params.get("value"))
        found(app, instance_id)
        registry.set_override(app, instance_id, status)
        if not from_peer(request):
            peers.set_status(app.upper(), instance_id, status)
        return Response(status_code=200)

    @router.delete("/apps/{app}/{instance_id}/status")
    async def clear_status(request: Request) -> Response:
        """Remove a status override (``?value=`` also sets the reported status)."""
        app, instance_id = path(request)
        value = request.query_params.get("value")
        status = status_value(value) if value else None
        found(app, instance_id)
        registry.clear_override(app, instance_id, status)
        if not from_peer(request):
            peers.clear_status(app.upper(), instance_id, status)
        return Response(status_code=200)

    @router.get("/status")
    async def status(request: Request) -> Response:
        """Return lease counts, the self-preservation state and the peers."""
        from_peer(request)
        apps = registry.applications()
        counts: dict[str, int] = {}
        for records in apps.values():
            for r in records:
                counts[r.effective_status.value] = counts.get(r.effective_status.value, 0) + 1
        doc = {
            "applications": len(apps),
            "instances": len(registry),
            "by_status": counts,
            "apps_hashcode": registry.hashcode(),
            "version": registry.version,
            "lease_duration_seconds": registry.lease_duration,
            "self_preservation": registry.preservation().as_dict(),
            "peers": peers.describe(),
            "synced": warm is None or warm.is_set(),
        }
        return Response(orjson.dumps(doc), media_type=JSON)

    @router.get("/peerreplication/leases")
    async def leases(request: Request) -> Response:
        """(Peers) Return every lease exactly, this registry's own included, for a sync."""
        from_peer(request)
        doc = {"leases": [r.to_dict() for r in registry.records()]}
        return Response(orjson.dumps(doc), media_type=JSON)

    return router
