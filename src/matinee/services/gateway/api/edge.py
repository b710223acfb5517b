"""The edge's filter chain, as plain function calls on the request's head.

inbound: route lookup, request id, trace context, per-IP rate limit, CORS
(preflight answered here), authentication against the cached JWKS, per-account
rate limit, body size limit, content-type validation; endpoint: an
:class:`Exchange` to an instance of the route's service (or the gateway's own
ASGI app for composite routes and everything outside the table); outbound:
security headers, request id, trace context, CORS, metrics by route, status and
origin service. A request whose token is already verified runs the whole chain
without a coroutine.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable
from typing import Any

from matinee.platform.httpserver import AsgiBridge, Request
from matinee.platform.identity import (
    IDENTITY_HEADER_BYTES,
    IDENTITY_SCOPE_KEY,
    Identity,
    IdentitySigner,
)
from matinee.services.gateway.api.proxy import Exchange, Upstreams
from matinee.services.gateway.api.stats import EdgeStats
from matinee.services.gateway.domain.cors import CorsPolicy
from matinee.services.gateway.domain.ratelimit import TokenBuckets
from matinee.services.gateway.domain.routes import RateClass, Route, RouteTable
from matinee.services.gateway.domain.tokens import (
    KeysUnavailable,
    TokenAuthority,
    TokenRejected,
    UnknownSigningKey,
    VerifiedToken,
)

__all__ = ["EDGE_IDENTITY_HEADER_KEY", "Edge"]

log = logging.getLogger("matinee.gateway.edge")

# Scope key under which local routes find the signed identity header to forward.
EDGE_IDENTITY_HEADER_KEY = "matinee.edge.identity_header"

_monotonic = time.monotonic
_wall = time.time
_bits = random.Random().getrandbits

# What the inbound pass does with each request header (others are forwarded as they are).
_DROP, _AUTH, _RID, _TRACE, _XFF, _ORIGIN, _CTYPE, _CONNECTION = range(8)
_SPECIAL: dict[bytes, int] = {
    b"host": _DROP,
    b"authorization": _AUTH,
    IDENTITY_HEADER_BYTES: _DROP,  # only the edge may state an identity
    b"x-request-id": _RID,
    b"traceparent": _TRACE,
    b"x-forwarded-for": _XFF,
    b"x-forwarded-proto": _DROP,
    b"x-forwarded-host": _DROP,
    b"forwarded": _DROP,
    b"expect": _DROP,
    b"origin": _ORIGIN,
    b"content-type": _CTYPE,
    b"connection": _CONNECTION,
    b"keep-alive": _DROP,
    b"proxy-authorization": _DROP,
    b"proxy-connection": _DROP,
    b"te": _DROP,
    b"trailer": _DROP,
    b"transfer-encoding": _DROP,
    b"upgrade": _DROP,
}
_RID_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
_HEX = frozenset(b"0123456789abcdef")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CORS_ALLOW_HEADERS = b"authorization, content-type, x-request-id, traceparent"
_CORS_EXPOSE = b"access-control-expose-headers: x-request-id, traceparent, retry-after\r\n"
_CORS_MAX_AGE = b"access-control-max-age: 600\r\n"
_WWW_AUTH = b'www-authenticate: Bearer realm="matinee"\r\n'
_WWW_AUTH_INVALID = b'www-authenticate: Bearer realm="matinee", error="invalid_token"\r\n'
# Bounds of the per-process memo tables (route matches, x-forwarded-for lines): when one
# fills up it starts over, so a scan of random paths or addresses cannot grow it.
_MEMO_LIMIT = 8192
_UNSEEN: Any = object()


def security_headers(behind_tls: bool) -> bytes:
    """Return the header lines every edge response carries."""
    lines = [
        b"x-content-type-options: nosniff\r\n",
        b"x-frame-options: DENY\r\n",
        b"content-security-policy: frame-ancestors 'none'\r\n",
        b"referrer-policy: no-referrer\r\n",
    ]
    if behind_tls:
        lines.append(b"strict-transport-security: max-age=31536000; includeSubDomains\r\n")
    return b"".join(lines)


class _Limits:
    """The token buckets of one rate-limit class."""

    __slots__ = ("account", "ip")

    def __init__(self, rate: RateClass, scale: float) -> None:
        self.ip = TokenBuckets(rate.ip_rate * scale, max(1.0, rate.ip_burst * scale))
        self.account = TokenBuckets(rate.account_rate * scale, max(1.0, rate.account_burst * scale))


class Edge:
    """The gateway's :class:`Handler`: filters, then the route's service or the local app."""

    def __init__(
        self,
        table: RouteTable,
        *,
        upstreams: Upstreams,
        tokens: TokenAuthority,
        signer: IdentitySigner,
        local: AsgiBridge,
        cors: CorsPolicy,
        stats: EdgeStats,
        rate_limit_scale: float = 1.0,
        trusted_proxies: Iterable[str] = (),
        behind_tls: bool = False,
        max_attempts: int = 2,
    ) -> None:
        self.table = table
        self.upstreams = upstreams
        self.tokens = tokens
        self.signer = signer
        self.local = local
        self.cors = cors
        self.stats = stats
        self.max_attempts = max_attempts
        self.trusted_proxies = frozenset(trusted_proxies)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._security = security_headers(behind_tls)
        self._proto = (
            b"x-forwarded-proto: https\r\n" if behind_tls else b"x-forwarded-proto: http\r\n"
        )
        self._limits: dict[str, _Limits] | None = None
        if rate_limit_scale > 0:
            self._limits = {
                name: _Limits(rate, rate_limit_scale) for name, rate in table.rate_classes.items()
            }
        for route in table.routes:
            route.stats = stats.for_route(route)
        self._anonymous = Identity.anonymous()
        self._anonymous_line = b""
        self._anonymous_until = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        # Memo of the route table: (method, raw path) -> (route, path at the service).
        self._matches: dict[tuple[str, str], tuple[Route, bytes] | None] = {}
        self._xff_lines: dict[str, bytes] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Use ``loop`` for timers (call once the server's loop runs)."""
        self.loop = loop

    # -- the chain ------------------------------------------------------------------------

    def handle(self, request: Request) -> None:
        """Run the inbound filters and hand the request to its endpoint."""
        started = _monotonic()
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        method = request.method
        key = (method, request.path)
        matches = self._matches
        matched = matches.get(key, _UNSEEN)
        if matched is _UNSEEN:
            found = self.table.match(method, request.path)
            if found is not None:
                route, values = found
                matched = (route, b"" if route.local else route.upstream_path(values))
            else:
                matched = None
            if len(matches) >= _MEMO_LIMIT:
                matches.clear()
            matches[key] = matched
        auth = rid = trace = xff = origin = ctype = connection = None
        forward: list[bytes] = []
        special = _SPECIAL
        for name, value in request.headers:
            kind = special.get(name)
            if kind is None:
                forward.append(b"%b: %b\r\n" % (name, value))
            elif kind == _AUTH:
                auth = value
            elif kind == _TRACE:
                trace = value
            elif kind == _RID:
                rid = value
            elif kind == _ORIGIN:
                origin = value
                forward.append(b"origin: %b\r\n" % value)
            elif kind == _CTYPE:
                ctype = value
                forward.append(b"content-type: %b\r\n" % value)
            elif kind == _XFF:
                xff = value
            elif kind == _CONNECTION:
                connection = value
        if connection is not None and connection.lower() not in (b"keep-alive", b"close"):
            forward = _drop_listed(forward, connection)

        # Trace context: continue the caller's trace or start one; request id defaults to it.
        if trace is not None and _valid_traceparent(trace):
            traceparent = b"00-%b-%016x-%b" % (trace[3:35], _bits(64), trace[53:55])
        else:
            # One draw for both ids: a new trace id (128 bits) and this hop's span (64).
            traceparent = b"00-%032x-%016x-01" % divmod(_bits(192), 1 << 64)
        trace_id = traceparent[3:35]
        if rid is None or len(rid) > 128 or not _RID_CHARS.issuperset(rid):
            rid = trace_id
        out = b"%bx-request-id: %b\r\n" % (self._security, rid)
        if origin is not None and self.cors.allows(origin):
            out += b"access-control-allow-origin: %b\r\nvary: origin\r\n%b" % (origin, _CORS_EXPOSE)

        client = request.client
        if xff is not None and client in self.trusted_proxies:
            client = xff.rpartition(b",")[2].strip().decode("latin-1") or client
            forwarded_for = b"x-forwarded-for: %b, %b\r\n" % (xff, request.client.encode())
        else:
            forwarded_for = self._xff_lines.get(client, b"")
            if not forwarded_for:
                forwarded_for = b"x-forwarded-for: %b\r\n" % client.encode()
                if len(self._xff_lines) >= _MEMO_LIMIT:
                    self._xff_lines.clear()
                self._xff_lines[client] = forwarded_for

        if matched is None:
            if method == "OPTIONS" and origin is not None:
                self._preflight(request, origin, out)
                return
            self._unmatched(request, out, traceparent)
            return
        route, upstream = matched

        limits = self._limits[route.rate_limit] if self._limits is not None else None
        if limits is not None:
            wait = limits.ip.take(client, started)
            if wait:
                self._too_many(request, route, out, wait, "ip", started)
                return

        identity_line: bytes | None
        if route.auth == "public":
            identity_line = self._anonymous_header()
            verified = None
        else:
            if auth is None or auth[:7].lower() != b"bearer ":
                self._deny(request, route, out, 401, "a bearer token is required", _WWW_AUTH)
                return
            token = auth[7:].strip()
            now = _wall()
            verified = self.tokens.cached(token, now)
            if verified is None:
                try:
                    verified = self.tokens.verify(token, now)
                except (UnknownSigningKey, KeysUnavailable):
                    self._spawn(
                        self._verify_then_continue(
                            request,
                            route,
                            upstream,
                            token,
                            out,
                            traceparent,
                            rid,
                            forward,
                            forwarded_for,
                            ctype,
                            started,
                        )
                    )
                    return
                except TokenRejected as exc:
                    self.stats.reject("invalid_token")
                    self._deny(request, route, out, 401, str(exc), _WWW_AUTH_INVALID)
                    return
            identity_line = self._continue_verified(
                request, route, out, verified, limits, started, now
            )
            if identity_line is None:
                return
        self._endpoint(
            request,
            route,
            upstream,
            out,
            traceparent,
            rid,
            forward,
            forwarded_for,
            identity_line,
            verified,
            ctype,
            started,
        )

    def _continue_verified(
        self,
        request: Request,
        route: Route,
        out: bytes,
        verified: VerifiedToken,
        limits: _Limits | None,
        started: float,
        now: float,
    ) -> bytes | None:
        if route.auth == "admin" and not verified.is_admin:
            self._deny(request, route, out, 403, "this operation needs the admin role", b"")
            return None
        if limits is not None:
            wait = limits.account.take(verified.account_id, started)
            if wait:
                self._too_many(request, route, out, wait, "account", started)
                return None
        if now >= verified.edge_header_until:
            identity = Identity.account(
                verified.account_id, plan=verified.plan, roles=verified.roles
            )
            header = self.signer.sign(identity)
            verified.edge_header = b"%b: %b\r\n" % (IDENTITY_HEADER_BYTES, header.encode())
            verified.edge_header_until = now + self.signer.ttl / 2
        return verified.edge_header

    async def _verify_then_continue(
        self,
        request: Request,
        route: Route,
        upstream: bytes,
        token: bytes,
        out: bytes,
        traceparent: bytes,
        rid: bytes,
        forward: list[bytes],
        forwarded_for: bytes,
        ctype: bytes | None,
        started: float,
    ) -> None:
        try:
            verified = await self.tokens.verify_refreshing(token, _wall())
        except KeysUnavailable:
            self._deny(
                request,
                route,
                out,
                503,
                "authentication is unavailable, retry shortly",
                b"retry-after: 2\r\n",
            )
            return
        except TokenRejected as exc:
            self.stats.reject("invalid_token")
            self._deny(request, route, out, 401, str(exc), _WWW_AUTH_INVALID)
            return
        if request.finished:
            return
        limits = self._limits[route.rate_limit] if self._limits is not None else None
        line = self._continue_verified(request, route, out, verified, limits, started, _wall())
        if line is not None:
            self._endpoint(
                request,
                route,
                upstream,
                out,
                traceparent,
                rid,
                forward,
                forwarded_for,
                line,
                verified,
                ctype,
                started,
            )

    def _endpoint(
        self,
        request: Request,
        route: Route,
        upstream: bytes,
        out: bytes,
        traceparent: bytes,
        rid: bytes,
        forward: list[bytes],
        forwarded_for: bytes,
        identity_line: bytes,
        verified: VerifiedToken | None,
        ctype: bytes | None,
        started: float,
    ) -> None:
        if request.has_body:
            length = request.content_length
            if length is not None and length > route.max_body:
                request.close_after = True
                self.stats.reject("body_too_large")
                self._deny(
                    request, route, out, 413, f"the body is over {route.max_body} bytes", b""
                )
                return
            if request.method in _BODY_METHODS and not _is_json(ctype):
                self._deny(request, route, out, 415, "the body must be application/json", b"")
                return
        if route.local:
            self._local(request, route, out, traceparent, identity_line, verified, started)
            return
        query = request.query
        path = upstream
        request_line = b"%b %b%b%b HTTP/1.1\r\n" % (
            request.method.encode(),
            path,
            b"?" if query else b"",
            query,
        )
        forward.append(identity_line)
        forward.append(b"traceparent: %b\r\nx-request-id: %b\r\n" % (traceparent, rid))
        forward.append(forwarded_for)
        forward.append(self._proto)
        if request.chunked:
            forward.append(b"transfer-encoding: chunked\r\n")
        forward.append(b"\r\n")
        Exchange(
            self,
            request,
            route,
            self.upstreams.service(route.service),
            request_line,
            b"".join(forward),
            out + b"traceparent: %b\r\n" % traceparent,
            started,
        ).start()

    # -- local routes and everything outside the table --------------------------------------

    def _local(
        self,
        request: Request,
        route: Route,
        out: bytes,
        traceparent: bytes,
        identity_line: bytes,
        verified: VerifiedToken | None,
        started: float,
    ) -> None:
        identity = (
            Identity.account(verified.account_id, plan=verified.plan, roles=verified.roles)
            if verified is not None
            else self._anonymous
        )
        header = identity_line.partition(b": ")[2].rstrip(b"\r\n").decode("latin-1")
        extra: dict[str, Any] = {IDENTITY_SCOPE_KEY: identity, EDGE_IDENTITY_HEADER_KEY: header}
        # The chassis's own middleware measures what the local app does with it.
        self._to_app(request, out, traceparent, extra)

    def _unmatched(self, request: Request, out: bytes, traceparent: bytes) -> None:
        path = request.path
        if path.startswith("/api/"):
            allowed = self.table.methods_for(path)
            if allowed:
                self.stats.reject("method_not_allowed")
                allow = ", ".join(allowed).encode()
                request.respond_problem(
                    405, f"{request.method} is not allowed here", out + b"allow: %b\r\n" % allow
                )
                return
            self.stats.reject("no_route")
            request.respond_problem(404, f"no route for {request.method} {path}", out)
            return
        self._to_app(request, out, traceparent, None)

    def _to_app(
        self, request: Request, out: bytes, traceparent: bytes, extra: dict[str, Any] | None
    ) -> None:
        # The local app sees the edge's trace context and no credentials of the device.
        headers = [
            (n, v)
            for n, v in request.headers
            if n not in (b"traceparent", b"authorization", IDENTITY_HEADER_BYTES)
        ]
        headers.append((b"traceparent", traceparent))
        self.local.handle(request, extra, headers=headers, response_headers=out)

    def _preflight(self, request: Request, origin: bytes, out: bytes) -> None:
        if not self.cors.allows(origin):
            self.stats.reject("cors_origin")
            request.respond_problem(403, "this origin may not call the API", out)
            return
        wanted = (request.header(b"access-control-request-method") or b"").decode("latin-1")
        allowed = self.table.methods_for(request.path)
        if not allowed or (wanted and wanted.upper() not in allowed):
            request.respond_problem(404, f"no route for {wanted or 'OPTIONS'} {request.path}", out)
            return
        request.respond(
            204,
            out
            + b"access-control-allow-methods: %b\r\n" % ", ".join(allowed).encode()
            + b"access-control-allow-headers: %b\r\n" % _CORS_ALLOW_HEADERS
            + _CORS_MAX_AGE,
        )

    # -- refusals -----------------------------------------------------------------------------

    def _deny(
        self, request: Request, route: Route, out: bytes, status: int, detail: str, extra: bytes
    ) -> None:
        if request.finished:
            return
        request.respond_problem(status, detail, out + extra)
        route.stats.observe(status, 0.0)

    def _too_many(
        self, request: Request, route: Route, out: bytes, wait: float, scope: str, started: float
    ) -> None:
        self.stats.reject(f"rate_limit_{scope}")
        retry_after = max(1, int(wait + 0.999))
        request.respond_problem(
            429,
            f"too many requests from this {'address' if scope == 'ip' else 'account'}",
            out + b"retry-after: %d\r\n" % retry_after,
        )
        route.stats.observe(429, _monotonic() - started)

    # -- helpers ------------------------------------------------------------------------------

    def observe(self, route: Route, status: int, started: float) -> None:
        """Count an answered request in the route's metrics."""
        route.stats.observe(status, _monotonic() - started)

    def _anonymous_header(self) -> bytes:
        now = _wall()
        if now >= self._anonymous_until:
            header = self.signer.sign(self._anonymous)
            self._anonymous_line = b"%b: %b\r\n" % (IDENTITY_HEADER_BYTES, header.encode())
            self._anonymous_until = now + self.signer.ttl / 2
        return self._anonymous_line

    def _spawn(self, coro: Any) -> None:
        assert self.loop is not None
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _valid_traceparent(value: bytes) -> bool:
    return (
        len(value) == 55
        and value[:3] == b"00-"
        and value[35:36] == b"-"
        and value[52:53] == b"-"
        and _HEX.issuperset(value[3:35])
        and value[3:35] != b"0" * 32
    )


def _is_json(ctype: bytes | None) -> bool:
    if ctype is None:
        return False
    media = ctype.partition(b";")[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def _drop_listed(forward: list[bytes], connection: bytes) -> list[bytes]:
    """Drop the headers a ``Connection`` header names (they were meant for one hop)."""
    listed = {t.strip().lower() for t in connection.split(b",")} - {b"keep-alive", b"close"}
    if not listed:
        return forward
    return [line for line in forward if line.partition(b":")[0] not in listed]
