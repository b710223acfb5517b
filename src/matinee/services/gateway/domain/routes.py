"""The route table: public method + path -> service, upstream path and edge policy.

The table is data (``routes.toml`` in the package); this module compiles it once
into lookups that cost a dict access for a static path and a short scan of the
routes with the same method and segment count for a parameterised one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "AUTH_MODES",
    "LOCAL_SERVICE",
    "RateClass",
    "Route",
    "RouteTable",
    "RouteTableError",
    "load_route_table",
]

AuthMode = Literal["public", "user", "admin"]
AUTH_MODES: tuple[AuthMode, ...] = ("public", "user", "admin")
# Routes whose service is this name are answered by the gateway's own app.
LOCAL_SERVICE = "gateway"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
# Encoded separators and dot segments would let a parameter walk out of its place.
_UNSAFE = ("%2f", "%2F", "%5c", "%5C", "\\")
_DOTS = frozenset({".", "..", "%2e", "%2E", "%2e%2e", "%2E%2E", ".%2e", "%2e.", ".%2E", "%2E."})


class RouteTableError(ValueError):
    """The route table data is invalid."""


@dataclass(frozen=True, slots=True)
class RateClass:
    """Token-bucket limits of one rate-limit class (per second and burst)."""

    name: str
    ip_rate: float
    ip_burst: float
    account_rate: float
    account_burst: float


@dataclass(slots=True, eq=False)
class Route:
    """One public operation and how the edge treats it."""

    method: str
    path: str
    service: str
    upstream: str
    auth: AuthMode = "user"
    idempotent: bool = False
    timeout: float = 2.0
    rate_limit: str = "default"
    max_body: int = 65536
    name: str = ""
    # Compiled: pattern segments (None marks a parameter), parameter names, upstream parts.
    segments: tuple[str | None, ...] = ()
    params: tuple[str, ...] = ()
    tail: str | None = None
    upstream_parts: tuple[tuple[bool, str], ...] = ()
    upstream_static: bytes | None = None
    # Filled by the edge: its per-route counters.
    stats: Any = field(default=None, repr=False)

    @property
    def local(self) -> bool:
        """Tell whether the gateway's own app answers this route."""
        return self.service == LOCAL_SERVICE

    def upstream_path(self, values: Mapping[str, str] | None) -> bytes:
        """Return the path at the service for the matched parameter values."""
        if self.upstream_static is not None:
            return self.upstream_static
        assert values is not None
        return "".join(
            values[text] if is_param else text for is_param, text in self.upstream_parts
        ).encode("latin-1")


def _split_pattern(pattern: str) -> tuple[tuple[str | None, ...], tuple[str, ...], str | None]:
    if not pattern.startswith("/"):
        raise RouteTableError(f"path {pattern!r} must start with /")
    segments: list[str | None] = []
    params: list[str] = []
    tail = None
    parts = pattern.split("/")[1:]
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("}"):
            name, _, kind = part[1:-1].partition(":")
            if not name.isidentifier() or name in params:
                raise RouteTableError(f"bad parameter {part!r} in {pattern!r}")
            if kind == "path":
                if index != len(parts) - 1:
                    raise RouteTableError(f"{{{name}:path}} must come last in {pattern!r}")
                tail = name
                params.append(name)
                continue
            if kind:
                raise RouteTableError(f"unknown parameter kind {kind!r} in {pattern!r}")
            segments.append(None)
            params.append(name)
        elif "{" in part or "}" in part:
            raise RouteTableError(f"a parameter must be a whole segment in {pattern!r}")
        else:
            segments.append(part)
    return tuple(segments), tuple(params), tail


def _split_upstream(template: str, params: tuple[str, ...]) -> tuple[tuple[bool, str], ...]:
    parts: list[tuple[bool, str]] = []
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        name, closing, rest = after.partition("}")
        if not closing or name not in params:
            raise RouteTableError(f"upstream {template!r} names an unknown parameter {name!r}")
        if before:
            parts.append((False, before))
        parts.append((True, name))
    if rest:
        parts.append((False, rest))
    return tuple(parts)


def _safe_segment(value: str) -> bool:
    return bool(value) and value not in _DOTS and not any(u in value for u in _UNSAFE)


class RouteTable:
    """Compiled routes; :meth:`match` finds the route and parameters of a request."""

    def __init__(self, routes: list[Route], rate_classes: Mapping[str, RateClass]) -> None:
        self.routes = routes
        self.rate_classes = dict(rate_classes)
        self._static: dict[str, dict[str, Route]] = {}
        # method -> segment count -> routes with parameters
        self._patterns: dict[str, dict[int, list[Route]]] = {}
        self._tails: dict[str, list[Route]] = {}
        self._paths: dict[str, set[str]] = {}
        seen: set[tuple[str, str]] = set()
        for route in routes:
            key = (route.method, route.path)
            if key in seen:
                raise RouteTableError(f"duplicate route {route.method} {route.path}")
            seen.add(key)
            if route.rate_limit not in self.rate_classes:
                raise RouteTableError(f"{route.name}: unknown rate_limit {route.rate_limit!r}")
            if route.tail is not None:
                self._tails.setdefault(route.method, []).append(route)
            elif route.params:
                by_count = self._patterns.setdefault(route.method, {})
                by_count.setdefault(len(route.segments) + 1, []).append(route)
            else:
                self._static.setdefault(route.method, {})[route.path] = route

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> RouteTable:
        """Compile a parsed route table document (see ``routes.toml``)."""
        defaults = dict(doc.get("defaults", {}))
        classes = {}
        for name, spec in dict(doc.get("rate_limits", {})).items():
            try:
                classes[name] = RateClass(
                    name,
                    float(spec["ip_rate"]),
                    float(spec["ip_burst"]),
                    float(spec["account_rate"]),
                    float(spec["account_burst"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise RouteTableError(f"rate_limits.{name}: {exc}") from None
        classes.setdefault("default", RateClass("default", 200, 400, 100, 200))
        routes = []
        for index, raw in enumerate(doc.get("routes", [])):
            spec = {**defaults, **raw}
            try:
                routes.append(_compile(spec))
            except KeyError as exc:
                raise RouteTableError(f"route #{index + 1}: missing {exc}") from None
            except (TypeError, ValueError) as exc:
                raise RouteTableError(f"route #{index + 1}: {exc}") from None
        return cls(routes, classes)

    @classmethod
    def from_toml(cls, text: str) -> RouteTable:
        """Compile a route table from TOML text."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RouteTableError(f"route table is not valid TOML: {exc}") from None
        return cls.from_dict(doc)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str] | None] | None:
        """Return ``(route, parameters)`` for a raw request path, or None."""
        static = self._static.get(method)
        if static is not None:
            route = static.get(path)
            if route is not None:
                return route, None
        by_count = self._patterns.get(method)
        if by_count is not None:
            segments = path.split("/")
            candidates = by_count.get(len(segments))
            if candidates:
                for route in candidates:
                    values = _match_segments(route, segments)
                    if values is not None:
                        return route, values
        tails = self._tails.get(method)
        if tails:
            for route in tails:
                values = _match_tail(route, path)
                if values is not None:
                    return route, values
        return None

    def methods_for(self, path: str) -> list[str]:
        """Return the methods some route accepts on ``path`` (for CORS preflight, 405)."""
        return [m for m in sorted(_METHODS) if self.match(m, path) is not None]


def _match_segments(route: Route, segments: list[str]) -> dict[str, str] | None:
    values: dict[str, str] = {}
    names = route.params
    n = 0
    for want, got in zip(route.segments, segments[1:], strict=True):
        if want is None:
            if not _safe_segment(got):
                return None
            values[names[n]] = got
            n += 1
        elif want != got:
            return None
    return values


def _match_tail(route: Route, path: str) -> dict[str, str] | None:
    prefix = "/" + "/".join(s or "" for s in route.segments) + "/"
    if route.segments and None in route.segments:
        segments = path.split("/")
        head = segments[1 : len(route.segments) + 1]
        if len(head) != len(route.segments):
            return None
        values = _match_segments(route, ["", *head])
        if values is None:
            return None
        rest = "/".join(segments[len(route.segments) + 1 :])
    else:
        if not path.startswith(prefix):
            return None
        values = {}
        rest = path[len(prefix) :]
    if not rest or not all(_safe_segment(s) for s in rest.split("/")):
        return None
    values[route.tail or ""] = rest
    return values


def _compile(spec: Mapping[str, Any]) -> Route:
    method = str(spec["method"]).upper()
    if method not in _METHODS:
        raise ValueError(f"unsupported method {method!r}")
    path = str(spec["path"])
    auth = str(spec.get("auth", "user"))
    if auth not in AUTH_MODES:
        raise ValueError(f"auth must be one of {AUTH_MODES}, not {auth!r}")
    segments, params, tail = _split_pattern(path)
    upstream = str(spec.get("upstream", path))
    if not upstream.startswith("/"):
        raise ValueError(f"upstream {upstream!r} must start with /")
    parts = _split_upstream(upstream, params)
    timeout = float(spec.get("timeout", 2.0))
    max_body = int(spec.get("max_body", 65536))
    if timeout <= 0 or max_body < 0:
        raise ValueError("timeout must be positive and max_body not negative")
    return Route(
        method=method,
        path=path,
        service=str(spec["service"]).lower(),
        upstream=upstream,
        auth=auth,
        idempotent=bool(spec.get("idempotent", method in _IDEMPOTENT)),
        timeout=timeout,
        rate_limit=str(spec.get("rate_limit", "default")),
        max_body=max_body,
        name=str(spec.get("name") or f"{method} {path}"),
        segments=segments,
        params=params,
        tail=tail,
        upstream_parts=parts,
        upstream_static=None if params else upstream.encode("latin-1"),
    )


def load_route_table(path: Path | None = None) -> RouteTable:
    """Load the route table from ``path``, or the one shipped in the package."""
    if path is not None:
        return RouteTable.from_toml(Path(path).read_text())
    text = resources.files("matinee.services.gateway").joinpath("routes.toml").read_text()
    return RouteTable.from_toml(text)
