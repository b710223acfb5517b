"""Typed endpoints on plain Starlette: pydantic validation without a framework tax.

FastAPI costs about 20 us per request before a handler runs; the chassis must stay
within 0.8x of bare Starlette (issue 2), so endpoints are declared here instead:
the decorator records the models once, and a request pays only for Starlette's
routing plus the pydantic validation it asked for. The same declarations feed
the OpenAPI document.

| declare | the handler receives |
|---|---|
| ``@router.get("/titles/{title_id}", path_model=TitlePath)`` | ``path: TitlePath`` |
| ``@router.get("/titles", query=Page)`` | ``query: Page`` (400 on bad values) |
| ``@router.post("/titles", body=TitleIn, status=201)`` | ``body: TitleIn`` (400, 413) |
| a parameter named ``request`` | the Starlette ``Request`` |
| a parameter named ``identity`` | the verified caller, an ``Identity`` |

A handler returns a pydantic model, a dict or list (JSON), or any ``Response``;
``json_response(model, status=201)`` picks the status at run time.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from matinee.platform.errors import BadRequest, PayloadTooLarge
from matinee.platform.identity import IDENTITY_SCOPE_KEY, Identity

__all__ = ["Endpoint", "Router", "json_response", "openapi_document"]

Handler = Callable[..., Awaitable[Any]]

_ANONYMOUS = Identity.anonymous()
# Bodies above this are refused before parsing unless an endpoint asks for more.
DEFAULT_MAX_BODY = 1 << 20
_JSON = "application/json"


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Serialize a model, dict or list as a JSON response."""
    if isinstance(content, BaseModel):
        body = content.__pydantic_serializer__.to_json(content)
    else:
        body = orjson.dumps(content, default=_default)
    return Response(body, status, headers=headers, media_type=_JSON)


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _errors(exc: ValidationError, where: str) -> list[dict[str, str]]:
    return [
        {
            "field": ".".join([where, *(str(p) for p in err["loc"])]) if err["loc"] else where,
            "message": err["msg"],
        }
        for err in exc.errors(include_url=False)
    ]


def _bad_request(errors: list[dict[str, str]]) -> BadRequest:
    first = errors[0]
    return BadRequest(f"{first['field']}: {first['message']}", errors=errors)


@dataclass(slots=True)
class Endpoint:
    """One declared operation: its route, models and handler."""

    method: str
    path: str
    handler: Handler
    path_model: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    max_body: int = DEFAULT_MAX_BODY
    summary: str = ""
    tags: Sequence[str] = ()
    wants_request: bool = False
    wants_identity: bool = False

    async def handle(self, request: Request) -> Response:
        """Validate what the endpoint declared, call its handler, render the result."""
        kwargs: dict[str, Any] = {}
        if self.wants_request:
            kwargs["request"] = request
        if self.wants_identity:
            kwargs["identity"] = request.scope.get(IDENTITY_SCOPE_KEY) or _ANONYMOUS
        if self.path_model is not None:
            try:
                kwargs["path"] = self.path_model.model_validate(request.path_params)
            except ValidationError as exc:
                raise _bad_request(_errors(exc, "path")) from None
        if self.query is not None:
            try:
                kwargs["query"] = self.query.model_validate(dict(request.query_params))
            except ValidationError as exc:
                raise _bad_request(_errors(exc, "query")) from None
        if self.body is not None:
            kwargs["body"] = await self._read_body(request)
        result = await self.handler(**kwargs)
        if isinstance(result, Response):
            return result
        return json_response(result, self.status)

    async def _read_body(self, request: Request) -> BaseModel:
        assert self.body is not None
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise PayloadTooLarge(f"body over {self.max_body} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLarge(f"body over {self.max_body} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw:
            raise BadRequest("body: a JSON body is required", errors=[
                {"field": "body", "message": "a JSON body is required"}
            ])  # fmt: skip
        try:
            return self.body.model_validate_json(raw)
        except ValidationError as exc:
            raise _bad_request(_errors(exc, "body")) from None


@dataclass
class Router:
    """A group of endpoints under a prefix; ``create_service_app(routers=[...])`` mounts it."""

    prefix: str = ""
    tags: Sequence[str] = ()
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        path_model: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> Callable[[Handler], Handler]:
        """Declare an endpoint; see the module docstring for what the handler receives."""

        def decorate(handler: Handler) -> Handler:
            params = inspect.signature(handler).parameters
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=self.prefix + path,
                    handler=handler,
                    path_model=path_model,
                    query=query,
                    body=body,
                    response=response,
                    status=status,
                    max_body=max_body,
                    summary=(inspect.getdoc(handler) or "").split("\n")[0],
                    tags=self.tags,
                    wants_request="request" in params,
                    wants_identity="identity" in params,
                )
            )
            return handler

        return decorate

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a GET endpoint."""
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a POST endpoint."""
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a PUT endpoint."""
        return self.route("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a DELETE endpoint."""
        return self.route("DELETE", path, **kw)

    def starlette_routes(self) -> list[BaseRoute]:
        """Return Starlette routes, one per path, dispatching on method."""
        by_path: dict[str, dict[str, Endpoint]] = {}
        for ep in self.endpoints:
            by_path.setdefault(ep.path, {})[ep.method] = ep
        routes: list[BaseRoute] = []
        for path, methods in by_path.items():
            if len(methods) == 1:
                ((method, ep),) = methods.items()
                routes.append(Route(path, ep.handle, methods=[method]))
            else:
                routes.append(Route(path, _dispatch(methods), methods=list(methods)))
        return routes


def _dispatch(methods: dict[str, Endpoint]) -> Callable[[Request], Awaitable[Response]]:
    table = dict(methods)
    if "GET" in table:
        table.setdefault("HEAD", table["GET"])

    async def dispatch(request: Request) -> Response:
        return await table[request.method].handle(request)

    return dispatch


def openapi_document(title: str, version: str, routers: Sequence[Router]) -> dict[str, Any]:
    """Build an OpenAPI 3.1 document from the routers' declarations."""
    schemas: dict[str, Any] = {}
    ref = "#/components/schemas/{model}"

    def schema_of(model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=ref)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": ref.format(model=model.__name__)}

    paths: dict[str, dict[str, Any]] = {}
    for router in routers:
        for ep in router.endpoints:
            op: dict[str, Any] = {
                "summary": ep.summary,
                "operationId": f"{ep.method.lower()}_{ep.handler.__name__}",
                "responses": {
                    str(ep.status): {
                        "description": "OK",
                        **(
                            {"content": {_JSON: {"schema": schema_of(ep.response)}}}
                            if ep.response
                            else {}
                        ),
                    },
                    "default": {
                        "description": "Problem",
                        "content": {"application/problem+json": {"schema": {"type": "object"}}},
                    },
                },
            }
            if ep.tags:
                op["tags"] = list(ep.tags)
            parameters = []
            for where, model in (("path", ep.path_model), ("query", ep.query)):
                if model is None:
                    continue
                for name, info in model.model_fields.items():
                    parameters.append(
                        {
                            "name": info.alias or name,
                            "in": where,
                            "required": where == "path" or info.is_required(),
                            "schema": model.model_json_schema()["properties"].get(
                                info.alias or name, {}
                            ),
                        }
                    )
            if parameters:
                op["parameters"] = parameters
            if ep.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {_JSON: {"schema": schema_of(ep.body)}},
                }
            paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schemas},
    }
