"""The edge's filter chain on fake connections: what a client and a service would see."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.httpserver import Request, UpstreamPool
from matinee.platform.identity import IDENTITY_HEADER, IdentitySigner
from matinee.services.gateway.api import Edge, EdgeStats, Upstreams
from matinee.services.gateway.domain import CorsPolicy, TokenAuthority, load_route_table
from tests.fakes_http import RecordingConnection
from tests.unit.gateway.signing import SigningKeys, alg_none_token

SECRET = "unit-secret"
TRACE = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class FakeClientConnection(RecordingConnection):
    """A client connection that records whether the edge closed it."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def response_done(self, request: Request) -> None:
        if request.close_after:
            self.closed = True

    def abort(self) -> None:
        self.closed = True


class FakeUpstreamConnection:
    """An idle keep-alive connection to a service that records what it is sent."""

    def __init__(self) -> None:
        self.closed = False
        self.idle_since = 0.0
        self.sent = b""
        self.listener: Any = None
        self.request_done = True

    def send(self, data: bytes, listener: Any, *, request_done: bool = True) -> None:
        self.sent += data
        self.listener = listener
        self.request_done = request_done

    def write(self, data: bytes) -> None:
        self.sent += data

    def abort(self) -> None:
        self.closed = True

    def head(self) -> tuple[str, dict[str, str]]:
        head = self.sent.partition(b"\r\n\r\n")[0].decode().split("\r\n")
        headers: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(": ")
            headers[name.lower()] = value
        return head[0], headers


def request(
    method: str, target: str, headers: dict[str, str] | None = None, *, length: int = 0
) -> tuple[Request, FakeClientConnection]:
    conn = FakeClientConnection()
    pairs = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    req = Request(conn, method, target.encode(), pairs, "1.1", True)  # type: ignore[arg-type]
    req.content_length = length or None
    req.body_done = not length
    return req, conn


class World:
    def __init__(self, *, scale: float = 1.0, jwks: Any = None) -> None:
        self.keys = SigningKeys()
        self.fetches = 0

        async def fetch() -> dict[str, Any]:
            self.fetches += 1
            if jwks is not None:
                return jwks(self)
            return self.keys.jwks()

        self.tokens = TokenAuthority(fetch, min_refresh_gap=0)
        self.local: list[Any] = []
        discovery = StaticDiscovery(
            [
                Instance("catalog", "catalog-1", "127.0.0.1", 9101),
                Instance("users", "users-1", "127.0.0.1", 9102),
            ]
        )
        self.pool = UpstreamPool()
        self.edge = Edge(
            load_route_table(),
            upstreams=Upstreams(discovery, self.pool),
            tokens=self.tokens,
            signer=IdentitySigner(SECRET, service="gateway"),
            local=self,  # type: ignore[arg-type]
            cors=CorsPolicy(["http://localhost:*"]),
            stats=EdgeStats(),
            rate_limit_scale=scale,
        )

    def handle(self, req: Request, extra: Any = None, **kw: Any) -> None:
        """Stand in for the local ASGI app."""
        self.local.append((req, extra, kw))

    def upstream(self, port: int = 9101) -> FakeUpstreamConnection:
        conn = FakeUpstreamConnection()
        self.pool.host("127.0.0.1", port).release(conn)  # type: ignore[arg-type]
        return conn

    def bearer(self, **kw: Any) -> dict[str, str]:
        return {"authorization": f"Bearer {self.keys.token(**kw)}"}


@pytest.fixture
async def world() -> World:
    w = World()
    w.tokens.load(w.keys.jwks())
    return w


async def test_a_verified_request_reaches_the_service_with_a_signed_identity(world):
    upstream = world.upstream()
    req, client = request(
        "GET",
        "/api/titles/7?lang=en",
        {
            **world.bearer(sub="42", plan="premium", roles=("beta",)),
            "traceparent": TRACE.decode(),
            IDENTITY_HEADER: "forged-by-the-device",
            "x-forwarded-for": "10.0.0.1",
            "connection": "keep-alive, x-secret-hop",
            "x-secret-hop": "1",
            "accept": "application/json",
        },
    )
    world.edge.handle(req)
    line, headers = upstream.head()
    assert line == "GET /titles/7?lang=en HTTP/1.1"
    assert headers["host"] == "127.0.0.1:9101"
    identity = IdentitySigner(SECRET, service="x").verify(headers[IDENTITY_HEADER])
    assert (identity.kind, identity.account_id, identity.plan) == ("account", "42", "premium")
    assert identity.roles == ("beta",)
    assert "authorization" not in headers and "x-secret-hop" not in headers
    assert "connection" not in headers
    assert headers["x-forwarded-for"] == "203.0.113.9"  # the device's own claim is not believed
    assert headers["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert headers["accept"] == "application/json"

    upstream.listener.on_upstream_head(
        200,
        [
            (b"Content-Type", b"application/json"),
            (b"Server", b"uvicorn"),
            (b"content-length", b"2"),
        ],
    )
    upstream.listener.on_upstream_body(b"{}")
    upstream.listener.on_upstream_end()
    status, out, body = client.response()
    assert (status, body) == (200, b"{}")
    assert out["x-content-type-options"] == "nosniff"
    assert out["x-frame-options"] == "DENY"
    assert out["referrer-policy"] == "no-referrer"
    assert "server" not in out and "strict-transport-security" not in out
    assert out["x-request-id"] == "0af7651916cd43dd8448eb211c80319c"
    assert out["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"


async def test_public_routes_go_out_as_anonymous(world):
    upstream = world.upstream(9102)
    req, _ = request("POST", "/api/auth/login", {"content-type": "application/json"}, length=10)
    world.edge.handle(req)
    _, headers = upstream.head()
    identity = IdentitySigner(SECRET, service="x").verify(headers[IDENTITY_HEADER])
    assert identity.kind == "anonymous"


def bad_tokens(world: World) -> dict[str, str]:
    other = SigningKeys()  # same kid "k1", another key: a forgery
    return {
        "missing": "",
        "alg none": alg_none_token(),
        "forged": other.token(),
        "expired": world.keys.token(ttl=-120),
        "wrong audience": world.keys.token(aud="someone-else"),
        "garbage": "not.a.token",
    }


async def test_bad_tokens_get_401_and_never_reach_a_service(world):
    upstream = world.upstream()
    for name, token in bad_tokens(world).items():
        headers = {"authorization": f"Bearer {token}"} if token else {}
        req, client = request("GET", "/api/titles/7", headers)
        world.edge.handle(req)
        status, out, body = client.response()
        assert status == 401, name
        assert out["content-type"] == "application/problem+json"
        assert out["www-authenticate"].startswith("Bearer")
        assert orjson.loads(body)["status"] == 401
    assert upstream.sent == b""


async def test_a_verified_token_is_not_verified_again(world):
    bearer = world.bearer()
    world.upstream()
    req, _ = request("GET", "/api/titles/7", bearer)
    world.edge.handle(req)
    world.tokens.load({"keys": []})  # the key is gone; the cached verdict stands until exp
    upstream = world.upstream()
    req, _ = request("GET", "/api/titles/7", bearer)
    world.edge.handle(req)
    assert upstream.sent.startswith(b"GET /titles/7 ")


async def test_unknown_key_refreshes_the_jwks_once_then_verifies(world):
    kid = world.keys.rotate()  # users rotated; the edge has the old set
    upstream = world.upstream()
    req, _ = request("GET", "/api/titles/7", world.bearer(kid=kid))
    world.edge.handle(req)
    for _ in range(20):
        await asyncio.sleep(0)
        if upstream.sent:
            break
    assert world.fetches == 1
    assert upstream.sent.startswith(b"GET /titles/7 ")


async def test_no_keys_yet_means_503_not_401():
    world = World()
    world.tokens.min_refresh_gap = 60

    async def down() -> dict[str, Any]:
        raise ConnectionError("users is down")

    world.tokens._fetch = down
    req, client = request("GET", "/api/titles/7", world.bearer())
    world.edge.handle(req)
    for _ in range(20):
        await asyncio.sleep(0)
    status, out, _ = client.response()
    assert status == 503 and out["retry-after"]


async def test_admin_routes_need_the_admin_role(world):
    req, client = request(
        "PUT",
        "/api/admin/lists/staff",
        {**world.bearer(), "content-type": "application/json"},
        length=5,
    )
    world.edge.handle(req)
    assert client.response()[0] == 403
    upstream = world.upstream()
    req, client = request(
        "PUT",
        "/api/admin/lists/staff",
        {**world.bearer(roles=("admin",)), "content-type": "application/json"},
        length=5,
    )
    world.edge.handle(req)
    assert upstream.sent.startswith(b"PUT /admin/lists/staff ")


async def test_an_oversized_body_gets_413_before_it_is_read(world):
    upstream = world.upstream(9102)
    req, client = request(
        "POST",
        "/api/profiles",
        {**world.bearer(), "content-type": "application/json"},
        length=10**6,
    )
    world.edge.handle(req)
    status, out, _ = client.response()
    assert status == 413 and out["connection"] == "close"
    assert client.closed
    assert upstream.sent == b""


async def test_a_body_that_is_not_json_gets_415(world):
    req, client = request(
        "POST", "/api/profiles", {**world.bearer(), "content-type": "text/plain"}, length=5
    )
    world.edge.handle(req)
    assert client.response()[0] == 415


async def test_rate_limits_per_ip_answer_429_with_retry_after():
    world = World(scale=0.01)  # default class: burst 4 per IP, 2 per account
    world.tokens.load(world.keys.jwks())
    statuses = []
    for i in range(8):
        world.upstream()
        req, client = request("GET", "/api/titles/7", world.bearer(sub=f"a{i}"))
        world.edge.handle(req)
        if client.written:
            statuses.append(client.response()[0])
        else:
            statuses.append(0)  # forwarded
    assert statuses[:4] == [0, 0, 0, 0]
    assert 429 in statuses[4:]
    req, client = request("GET", "/api/titles/7", world.bearer())
    world.edge.handle(req)
    status, out, _ = client.response()
    assert status == 429 and int(out["retry-after"]) >= 1


async def test_rate_limits_per_account_follow_the_account_across_addresses():
    world = World(scale=0.01)
    world.tokens.load(world.keys.jwks())
    bearer = world.bearer(sub="same")
    statuses = []
    for i in range(4):
        world.upstream()
        req, client = request("GET", "/api/titles/7", bearer)
        req.client = f"198.51.100.{i}"
        world.edge.handle(req)
        statuses.append(client.response()[0] if client.written else 0)
    assert statuses == [0, 0, 429, 429]


async def test_cors_preflight_is_answered_at_the_edge(world):
    req, client = request(
        "OPTIONS",
        "/api/profiles",
        {"origin": "http://localhost:5173", "access-control-request-method": "POST"},
    )
    world.edge.handle(req)
    status, out, _ = client.response()
    assert status == 204
    assert out["access-control-allow-origin"] == "http://localhost:5173"
    assert "POST" in out["access-control-allow-methods"]
    assert "authorization" in out["access-control-allow-headers"]
    req, client = request(
        "OPTIONS",
        "/api/profiles",
        {"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    world.edge.handle(req)
    status, out, _ = client.response()
    assert status == 403 and "access-control-allow-origin" not in out


async def test_unknown_routes_get_404_and_wrong_methods_405(world):
    req, client = request("GET", "/api/nothing-here")
    world.edge.handle(req)
    status, out, _body = client.response()
    assert status == 404 and out["content-type"] == "application/problem+json"
    req, client = request("PATCH", "/api/profiles")
    world.edge.handle(req)
    status, out, _ = client.response()
    assert status == 405 and out["allow"] == "GET, POST"


async def test_chassis_paths_and_local_routes_go_to_the_local_app(world):
    req, _ = request("GET", "/healthz")
    world.edge.handle(req)
    req, _ = request("GET", "/api/home?profile=1", world.bearer(sub="7"))
    world.edge.handle(req)
    (health, no_extra, _), (_home, extra, kw) = world.local
    assert health.path == "/healthz" and no_extra is None
    assert extra["matinee.identity"].account_id == "7"
    assert IdentitySigner(SECRET, service="x").verify(extra["matinee.edge.identity_header"])
    assert all(name != b"authorization" for name, _ in kw["headers"])
    assert b"x-content-type-options: nosniff" in kw["response_headers"]
