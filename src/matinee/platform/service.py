"""The service chassis: one app factory that every Matinee service is built with.

``create_service_app`` gives a FastAPI app with health, readiness and metrics
endpoints, trace propagation, JSON logs, problem+json errors, and registration
with discovery for as long as the app runs. A service adds only its routes,
its own lifespan (storage, event bus) and its readiness checks.

| usage | what it adds |
|---|---|
| ``create_service_app(SPEC, settings, routers=[api.router])`` | a ready-to-serve app |
| ``..., lifespan=open_adapters`` | the service's own setup/teardown, run inside the chassis's |
| ``..., readiness={"database": db.check}`` | ``/readyz`` is 503 while a check fails |
| ``..., discovery=discovery`` | registers this instance UP after start, cancels on stop |
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from matinee.platform.discovery import Discovery, Instance, Status
from matinee.platform.errors import ProblemError, problem_response
from matinee.platform.settings import ServiceSettings
from matinee.platform.telemetry.metrics import CONTENT_TYPE, Metrics
from matinee.platform.telemetry.middleware import TelemetryMiddleware

__all__ = ["ReadinessCheck", "ServiceSpec", "create_service_app", "own_instance"]

log = logging.getLogger("matinee.service")

ReadinessCheck = Callable[[], Awaitable[None]]
ServiceLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

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


def own_instance(spec: ServiceSpec, settings: ServiceSettings) -> Instance:
    """Describe this process as the registry should see it."""
    return Instance(
        service=spec.name,
        instance_id=settings.resolved_instance_id(spec.name),
        host=settings.host,
        port=settings.port,
        status=Status.UP,
        version=settings.version,
        region=settings.region,
        zone=settings.zone,
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body",)]
        errors.append({"field": ".".join(loc) or "body", "message": str(err.get("msg", ""))})
    return errors


def _install_error_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return exc.to_response(instance=request.url.path)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        detail = f"{first['field']}: {first['message']}"
        return problem_response(
            400, "Bad Request", detail, instance=request.url.path, errors=errors
        )

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

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


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
    routers: Sequence[APIRouter] = (),
    lifespan: ServiceLifespan | None = None,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    discovery: Discovery | None = None,
    metrics: Metrics | None = None,
    openapi: bool = True,
) -> FastAPI:
    """Build a service's app: the chassis around the service's own routes and lifespan."""
    metrics = metrics or Metrics()
    checks = dict(readiness or {})
    instance = own_instance(spec, settings)

    @asynccontextmanager
    async def chassis_lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _optional(lifespan, app):
            if discovery is not None:
                await discovery.start(instance if settings.port else None)
            app.state.started = True
            log.info("started", extra={"url": instance.url, "version": instance.version})
            try:
                yield
            finally:
                app.state.started = False
                if discovery is not None:
                    await discovery.stop()
                log.info("stopping")

    app = FastAPI(
        title=f"matinee {spec.name}",
        version=settings.version,
        lifespan=chassis_lifespan,
        openapi_url="/openapi.json" if openapi else None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.spec = spec
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.instance = instance
    app.state.discovery = discovery
    app.state.started = False
    _install_error_handlers(app)

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def readyz(request: Request) -> Response:
        results: dict[str, str] = {}
        if not request.app.state.started:
            results["startup"] = "not finished"
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), _READINESS_TIMEOUT)
                results[name] = "ok"
            except Exception as exc:  # a failing check is data here, not an error
                results[name] = f"{type(exc).__name__}: {exc}"[:300]
        failing = {k: v for k, v in results.items() if v != "ok"}
        if failing:
            return problem_response(
                503, "Service Unavailable", "not ready", checks=results
            )
        return Response(
            orjson.dumps({"status": "ready", "checks": results}), media_type="application/json"
        )

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    app.add_route("/healthz", healthz, include_in_schema=False)
    app.add_route("/readyz", readyz, include_in_schema=False)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    for router in routers:
        app.include_router(router)
    app.add_middleware(TelemetryMiddleware, metrics=metrics)
    return app


@asynccontextmanager
async def _optional(lifespan: ServiceLifespan | None, app: FastAPI) -> AsyncIterator[None]:
    if lifespan is None:
        yield
        return
    async with lifespan(app):
        yield
