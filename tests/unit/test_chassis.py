"""The chassis as a client sees it: health, readiness, metrics, traces, problem errors."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
from pydantic import BaseModel, Field
from starlette.testclient import TestClient

from matinee.platform.api import Router
from matinee.platform.discovery import StaticDiscovery, Status
from matinee.platform.errors import NotFound
from matinee.platform.identity import IDENTITY_HEADER, Identity, IdentitySigner
from matinee.platform.service import ServiceSpec, create_service_app
from matinee.platform.settings import ServiceSettings
from matinee.platform.telemetry.logging import JsonFormatter
from tests.conftest import signed_headers

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = f"00-{TRACE}-b7ad6b7169203331-01"


class ItemPath(BaseModel):
    item_id: int = Field(ge=1, le=1000)


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=20)


class Search(BaseModel):
    q: str = Field(default="", max_length=10)
    limit: int = Field(default=10, ge=1, le=50)


def build(checks=None) -> TestClient:
    router = Router()
    log = logging.getLogger("test.items")

    @router.get("/items/{item_id}", path_model=ItemPath)
    async def get_item(path: ItemPath) -> dict:
        log.info("reading item")
        if path.item_id == 404:
            raise NotFound("no such item")
        return {"id": path.item_id}

    @router.post("/items", body=ItemIn, status=201, max_body=1024)
    async def post_item(body: ItemIn) -> dict:
        return {"name": body.name}

    @router.get("/search", query=Search)
    async def search(query: Search) -> dict:
        return {"q": query.q, "limit": query.limit}

    @router.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("secret internals")

    @router.get("/whoami")
    async def whoami(identity: Identity) -> dict:
        return {"kind": identity.kind, "account": identity.account_id, "plan": identity.plan}

    app = create_service_app(
        ServiceSpec("demo"), ServiceSettings(), routers=[router], readiness=checks
    )
    client = TestClient(app, raise_server_exceptions=False)
    client.headers.update(signed_headers())
    return client


def test_health_and_readiness():
    with build() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"


def test_failing_readiness_check_names_the_problem():
    async def broken() -> None:
        raise RuntimeError("database file is not a database")

    with build({"database": broken}) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert "not a database" in ready.json()["checks"]["database"]
        assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_traceparent_is_continued_and_echoed():
    with build() as client:
        response = client.get("/items/1", headers={"traceparent": PARENT})
        echoed = response.headers["traceparent"].split("-")
        assert echoed[1] == TRACE
        assert echoed[2] != "b7ad6b7169203331"  # a new span of the same trace


def test_malformed_traceparent_starts_a_new_trace():
    with build() as client:
        response = client.get("/items/1", headers={"traceparent": "00-zz-nonsense-01"})
        assert len(response.headers["traceparent"].split("-")[1]) == 32


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/items/abc", 400, "path.item_id"),
        ("/items/0", 400, "path.item_id"),
        ("/search?limit=0", 400, "query.limit"),
        ("/search?q=" + "x" * 11, 400, "query.q"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(path, status, field):
    with build() as client:
        response = client.get(path)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == field


def test_body_validation_malformed_json_and_size_limit():
    with build() as client:
        assert client.post("/items", json={"name": "ok"}).status_code == 201
        bad = client.post("/items", json={"name": ""})
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "body.name"
        malformed = client.post(
            "/items", content=b'{"name": ', headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 400
        assert malformed.headers["content-type"] == "application/problem+json"
        too_big = client.post("/items", content=b"x" * 2048)
        assert too_big.status_code == 413
        assert client.post("/items").status_code == 400


def test_domain_errors_unknown_routes_and_crashes_are_problems():
    with build() as client:
        missing = client.get("/items/404")
        assert missing.status_code == 404 and missing.json()["detail"] == "no such item"
        unknown = client.get("/nowhere")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        assert client.delete("/items/1").status_code == 405
        crash = client.get("/boom")
        assert crash.status_code == 500
        assert crash.headers["content-type"] == "application/problem+json"
        assert "secret" not in crash.text


def test_metrics_count_requests_by_route_template():
    with build() as client:
        client.get("/items/1")
        client.get("/items/2")
        client.get("/items/404")
        text = client.get("/metrics").text
    assert (
        'http_server_request_duration_seconds_count{method="GET",route="/items/{item_id}",'
        'status="200"} 2.0' in text
    )
    assert 'route="/items/{item_id}",status="404"} 1.0' in text
    assert "http_server_requests_in_flight" in text


def test_openapi_document_lists_declared_endpoints():
    with build() as client:
        doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) >= {"/items/{item_id}", "/items", "/search"}
    assert doc["paths"]["/items"]["post"]["requestBody"]["required"] is True


def test_json_logs_carry_service_instance_and_trace_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("demo", "demo-1"))
    logger = logging.getLogger("test.items")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with build() as client:
            client.get("/items/1", headers={"traceparent": PARENT})
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["service"] == "demo" and line["instance"] == "demo-1"
    assert line["trace_id"] == TRACE
    assert line["msg"] == "reading item"


def test_placeholder_secret_refused_outside_development(monkeypatch):
    monkeypatch.setenv("MATINEE_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="placeholder"):
        ServiceSettings()
    monkeypatch.setenv("MATINEE_INTERNAL_SECRET", "a-real-long-random-secret")
    monkeypatch.setenv("MATINEE_URL_SECRET", "another-real-long-random-secret")
    assert ServiceSettings().environment == "production"


def test_advertised_status_follows_readiness():
    healthy = {"value": False}

    async def database() -> None:
        if not healthy["value"]:
            raise RuntimeError("file is not a database")

    discovery = StaticDiscovery()
    settings = ServiceSettings(port=8123, readiness_interval=0.02)
    app = create_service_app(
        ServiceSpec("demo"), settings, readiness={"database": database}, discovery=discovery
    )
    with TestClient(app):
        assert discovery.own is not None and discovery.own.status == Status.DOWN
        healthy["value"] = True
        deadline = time.monotonic() + 5
        while discovery.own.status != Status.UP and time.monotonic() < deadline:
            time.sleep(0.02)
        assert discovery.own.status == Status.UP
        assert discovery.own.port == 8123


def test_requests_without_the_edges_signature_are_refused():
    with build() as client:
        bare = client.get("/items/1", headers={IDENTITY_HEADER: ""})
        assert bare.status_code == 401
        assert bare.headers["content-type"] == "application/problem+json"
        forged = signed_headers(secret="not-the-fleet-secret")
        assert client.get("/items/1", headers=forged).status_code == 401
        expired = IdentitySigner("dev-internal-secret", service="x", clock=lambda: 0.0)
        stale = {IDENTITY_HEADER: expired.sign(Identity.of_service("x"))}
        assert client.get("/items/1", headers=stale).status_code == 401
        garbage = {IDENTITY_HEADER: "eyJ.garbage"}
        assert client.get("/items/1", headers=garbage).status_code == 401
        # probes and scrapers need no identity
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
            assert client.get(path, headers={IDENTITY_HEADER: ""}).status_code == 200, path


def test_handlers_see_the_verified_caller():
    who = Identity.account("42", plan="premium")
    with build() as client:
        body = client.get("/whoami", headers=signed_headers(who)).json()
    assert body == {"kind": "account", "account": "42", "plan": "premium"}
