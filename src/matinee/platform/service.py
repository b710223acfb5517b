"""The service chassis: one app factory that every Matinee service is built with.

``create_service_app`` gives a Starlette app with health, readiness and metrics
endpoints, trace propagation, JSON logs, problem+json errors, and registration
with discovery for as long as the app runs. A service adds only its routes,
its own lifespan (storage, event bus) and its readiness checks.

| usage | what it adds |
|---|---|
| ``create_service_app(SPEC, settings, routers=[router])`` | a ready-to-serve app |
| ``..., lifespan=open_adapters`` | the service's own setup/teardown, run inside the chassis's |
| ``..., readiness={"database": db.check}`` | ``/readyz`` is 503 while a check fails |
| ``..., discovery=discovery`` | registers this instance UP after start, cancels on stop |
| ``..., instance_metadata={"isp": "isp-a"}`` | extra metadata in the registration |
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from matinee.platform.api import Router, openapi_document
from matinee.platform.discovery import Discovery, Instance, Status
from matinee.platform.errors import ProblemError, problem_response
from matinee.platform.identity import Identity, IdentitySigner, set_fallback_identity
from matinee.platform.settings import ServiceSettings
from matinee.platform.telemetry.metrics import CONTENT_TYPE, Metrics
from matinee.platform.telemetry.middleware import TelemetryMiddleware

__all__ = ["ReadinessCheck", "ServiceSpec", "create_service_app", "own_instance"]

log = logging.getLogger("matinee.service")

ReadinessCheck = Callable[[], Awaitable[None]]
ServiceLifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]

# The chassis's own endpoints: probes and scrapers reach them without an identity.
_CHASSIS_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
# A readiness check slower than this counts as failing: /readyz must answer fast.
_READINESS_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """What the supervisor and the chassis need to know about a service."""

    name: str
    default_instances: int = 1
    on_play_path: bool = False
    # Services with a well-known port (gateway 8080, registry 8761) name the setting here.
    fixed_port: int | None = None
    description: str = ""


def own_instance(
    spec: ServiceSpec, settings: ServiceSettings, metadata: Mapping[str, str] | None = None
) -> Instance:
    """Describe this process as the registry should see it (plus the service's ``metadata``)."""
    return Instance(
        service=spec.name,
        instance_id=settings.resolved_instance_id(spec.name),
        host=settings.host,
        port=settings.port,
        status=Status.UP,
        version=settings.version,
        region=settings.region,
        zone=settings.zone,
        # Lets `matinee status` and operators tie a registration to an OS process.
        metadata={**(metadata or {}), "pid": str(os.getpid())},
    )


def _exception_handlers() -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return exc.to_response(instance=request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            exc.status_code,
            _reason(exc.status_code),
            str(exc.detail) if exc.detail else "",
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            500, "Internal Server Error", "unexpected error", instance=request.url.path
        )

    return {
        ProblemError: on_problem,
        StarletteHTTPException: on_http,
        Exception: on_unexpected,
    }


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def create_service_app(
    spec: ServiceSpec,
    settings: ServiceSettings,
    *,
    routers: Sequence[Router] = (),
    routes: Sequence[BaseRoute] = (),
    lifespan: ServiceLifespan | None = None,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    discovery: Discovery | None = None,
    metrics: Metrics | None = None,
    require_identity: bool = True,
    instance_metadata: Mapping[str, str] | None = None,
) -> Starlette:
    """Build a service's app: the chassis around the service's own routes and lifespan.

    With ``require_identity`` (the default) every route but the chassis's own answers
    only requests carrying an identity signed by the edge or a peer service; only
    infrastructure that foreign clients call (the registry) turns it off.
    ``instance_metadata`` is advertised with the registration (a CDN node's ISP, say).
    """
    metrics = metrics or Metrics()
    signer = IdentitySigner(settings.internal_secret, service=spec.name)
    checks = dict(readiness or {})
    instance = own_instance(spec, settings, instance_metadata)
    openapi = orjson.dumps(openapi_document(f"matinee {spec.name}", settings.version, routers))

    @asynccontextmanager
    async def chassis_lifespan(app: Starlette) -> AsyncIterator[None]:
        # Calls this process makes outside any request go out as the service itself.
        set_fallback_identity(lambda: signer.sign(Identity.of_service(spec.name)))
        async with _optional(lifespan, app):
            watcher: asyncio.Task[None] | None = None
            if discovery is not None:
                # Register as ready or not: an instance whose database is broken stays
                # visible to operators but gets no traffic until its checks pass.
                ready = _all_ok(await _run_checks(checks))
                status = Status.UP if ready else Status.DOWN
                own = dataclasses.replace(instance, status=status)
                await discovery.start(own if settings.port else None)
                if settings.port and checks:
                    watcher = asyncio.create_task(
                        _follow_readiness(discovery, checks, status, settings.readiness_interval)
                    )
            app.state.started = True
            log.info("started", extra={"url": instance.url, "version": instance.version})
            try:
                yield
            finally:
                app.state.started = False
                if watcher is not None:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
                if discovery is not None:
                    await discovery.stop()
                log.info("stopping")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def readyz(request: Request) -> Response:
        results = await _run_checks(checks)
        if not request.app.state.started:
            results["startup"] = "not finished"
        if not _all_ok(results):
            return problem_response(503, "Service Unavailable", "not ready", checks=results)
        return Response(
            orjson.dumps({"status": "ready", "checks": results}), media_type="application/json"
        )

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def openapi_endpoint(request: Request) -> Response:
        return Response(openapi, media_type="application/json")

    # Starlette tries routes in order: the service's own first, they carry the traffic.
    all_routes: list[BaseRoute] = []
    for router in routers:
        if not isinstance(router, Router):
            raise TypeError(
                "routers must be matinee.platform.api.Router; the chassis does not use FastAPI "
                "(it cost 0.36x of bare Starlette), see the docstring of matinee/platform/api.py"
            )
        all_routes.extend(router.starlette_routes())
    all_routes.extend(routes)
    all_routes += [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        Route("/openapi.json", openapi_endpoint),
    ]
    middleware = [
        Middleware(
            TelemetryMiddleware,
            metrics=metrics,
            signer=signer if require_identity else None,
            open_paths=_CHASSIS_PATHS,
        )
    ]
    app = Starlette(
        routes=all_routes,
        middleware=middleware,
        exception_handlers=_exception_handlers(),
        lifespan=chassis_lifespan,
    )
    app.state.spec = spec
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.instance = instance
    app.state.discovery = discovery
    app.state.started = False
    app.state.signer = signer
    return app


async def _run_checks(checks: Mapping[str, ReadinessCheck]) -> dict[str, str]:
    """Run every readiness check concurrently; map each name to "ok" or its failure."""

    async def one(check: ReadinessCheck) -> str:
        try:
            await asyncio.wait_for(check(), _READINESS_TIMEOUT)
        except Exception as exc:  # a failing check is data here, not an error
            return f"{type(exc).__name__}: {exc}"[:300]
        return "ok"

    names = list(checks)
    outcomes = await asyncio.gather(*(one(checks[name]) for name in names))
    return dict(zip(names, outcomes, strict=True))


def _all_ok(results: Mapping[str, str]) -> bool:
    return all(value == "ok" for value in results.values())


async def _follow_readiness(
    discovery: Discovery, checks: Mapping[str, ReadinessCheck], status: Status, interval: float
) -> None:
    """Keep the advertised status in step with readiness: UP when ready, DOWN when not."""
    while True:
        await asyncio.sleep(interval)
        results = await _run_checks(checks)
        wanted = Status.UP if _all_ok(results) else Status.DOWN
        if wanted != status:
            log.warning("readiness changed: advertising %s", wanted, extra={"checks": results})
            await discovery.set_status(wanted)
            status = wanted


@asynccontextmanager
async def _optional(lifespan: ServiceLifespan | None, app: Starlette) -> AsyncIterator[None]:
    if lifespan is None:
        yield
        return
    async with lifespan(app):
        yield
