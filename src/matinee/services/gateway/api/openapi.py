"""``GET /api/openapi.json``: one OpenAPI document for the whole public API.

Each service describes its own operations (the chassis serves ``/openapi.json``);
the edge knows which public path maps to which service path (the route table).
This module joins the two: every public route gets the operation its service
declared for the upstream path, under the public path, with the edge's own rules
added (bearer auth, 401/413/429 problems). Schemas are namespaced by service so two
services' ``TitleOut`` never collide. Documents are cached; a service that is down
keeps its last good description and is named in ``x-matinee-degraded``.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.responses import Response

from matinee.platform.api import Router, json_response
from matinee.services.gateway.domain.routes import Route, RouteTable

__all__ = ["build_openapi_router", "merge_documents"]

ServiceDocument = Callable[[], Awaitable[Mapping[str, Any]]]

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
_REF = "#/components/schemas/"
_CACHE_SECONDS = 60.0
_DEGRADED_SECONDS = 5.0
_EDGE_PROBLEMS = {
    "401": "missing, expired or forged access token",
    "413": "request body too large",
    "429": "rate limit exceeded; see Retry-After",
}


def _shape(path: str) -> str:
    """Return a path with every parameter replaced by ``{}``, to match across names."""
    return _PARAM.sub("{}", path)


def _names(path: str) -> list[str]:
    return _PARAM.findall(path)


def _namespace(node: Any, service: str) -> Any:
    """Rewrite every schema reference in ``node`` to the service's namespace."""
    if isinstance(node, dict):
        return {
            key: (
                f"{_REF}{service}.{value[len(_REF) :]}"
                if key == "$ref" and isinstance(value, str) and value.startswith(_REF)
                else _namespace(value, service)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_namespace(item, service) for item in node]
    return node


def _operation_for(route: Route, doc: Mapping[str, Any]) -> dict[str, Any] | None:
    wanted = _shape(route.upstream)
    for path, operations in doc.get("paths", {}).items():
        if _shape(path) == wanted and route.method.lower() in operations:
            op = copy.deepcopy(operations[route.method.lower()])
            # The service names its path parameters its own way; the public path may not.
            renames = dict(zip(_names(path), _names(route.path), strict=False))
            for param in op.get("parameters", []):
                if param.get("in") == "path" and param.get("name") in renames:
                    param["name"] = renames[param["name"]]
            return op
    return None


def merge_documents(
    table: RouteTable,
    documents: Mapping[str, Mapping[str, Any]],
    *,
    title: str = "Matinee public API",
    version: str = "",
) -> dict[str, Any]:
    """Build the public document from the route table and each service's own document."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for service, doc in documents.items():
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            schemas[f"{service}.{name}"] = _namespace(schema, service)
    for route in table.routes:
        source = documents.get(route.service)
        op = _operation_for(route, source) if source is not None else None
        if op is None:
            op = {"summary": f"{route.method} {route.upstream} on {route.service}", "responses": {}}
        op = _namespace(op, route.service)
        op.setdefault("tags", [route.service])
        op["operationId"] = route.name or f"{route.method.lower()}_{route.path}"
        responses = op.setdefault("responses", {})
        for status, why in _EDGE_PROBLEMS.items():
            if status == "401" and route.auth == "public":
                continue
            responses.setdefault(status, {"description": why})
        if route.auth != "public":
            op["security"] = [{"bearer": []}]
        public_path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", route.path)
        paths.setdefault(public_path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def build_openapi_router(
    table: RouteTable,
    sources: Mapping[str, ServiceDocument],
    *,
    version: str = "",
    clock: Callable[[], float] = time.monotonic,
) -> Router:
    """Return ``GET /api/openapi.json``; ``sources`` fetch each service's own document."""
    router = Router(prefix="/api", tags=["edge"])
    cache = _MergedDocument(table, sources, version, clock)

    @router.get("/openapi.json")
    async def openapi() -> Response:
        """Return the OpenAPI document of the public API."""
        return Response(await cache.body(), media_type="application/json")

    return router


class _MergedDocument:
    """The merged document, rebuilt at most once a minute (sooner while degraded)."""

    def __init__(
        self,
        table: RouteTable,
        sources: Mapping[str, ServiceDocument],
        version: str,
        clock: Callable[[], float],
    ) -> None:
        self._table = table
        self._sources = sources
        self._version = version
        self._clock = clock
        self._last_good: dict[str, Mapping[str, Any]] = {}
        self._body = b""
        self._expires = float("-inf")
        self._lock = asyncio.Lock()

    async def body(self) -> bytes:
        """Return the document, rebuilding it first when it is stale."""
        if self._clock() >= self._expires:
            async with self._lock:  # one rebuild, however many requests wait
                if self._clock() >= self._expires:
                    await self._rebuild()
        return self._body

    async def _rebuild(self) -> None:
        names = list(self._sources)
        fetched = await asyncio.gather(*(self._sources[n]() for n in names), return_exceptions=True)
        degraded = []
        for name, doc in zip(names, fetched, strict=True):
            if isinstance(doc, BaseException):
                degraded.append(name)
            else:
                self._last_good[name] = doc
        merged = merge_documents(self._table, self._last_good, version=self._version)
        if degraded:
            merged["x-matinee-degraded"] = degraded
        self._body = bytes(json_response(merged).body)
        self._expires = self._clock() + (_DEGRADED_SECONDS if degraded else _CACHE_SECONDS)
