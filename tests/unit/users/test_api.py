"""The users HTTP API over fakes (no sockets): statuses, problems and who may call what."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from matinee.platform.identity import Identity
from matinee.services.users.app import create_app
from matinee.services.users.domain.memory import InMemoryUsersStore
from matinee.services.users.settings import UsersSettings
from tests.conftest import signed_headers
from tests.unit.users.fakes import FakeClock, FakeHasher

ANON = signed_headers(Identity.anonymous())
PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(tmp_path, clock):
    settings = UsersSettings.of(data_dir=tmp_path, lockout_delay_after=3, lockout_lock_after=5)
    app = create_app(settings, store=InMemoryUsersStore(), hasher=FakeHasher(), clock=clock)
    with TestClient(app) as test_client:
        yield test_client


def signup(client: TestClient, email: str = "pat@example.com") -> dict:
    response = client.post(
        "/auth/signup", json={"email": email, "password": PASSWORD}, headers=ANON
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_throttled_sign_in_is_429_with_retry_after(client, clock):
    signup(client)
    bad = {"email": "pat@example.com", "password": "wrong password"}
    for _ in range(3):
        assert client.post("/auth/login", json=bad, headers=ANON).status_code == 401
    throttled = client.post(
        "/auth/login", json={"email": "pat@example.com", "password": PASSWORD}, headers=ANON
    )
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "1"
    assert throttled.headers["content-type"] == "application/problem+json"
    assert "pat@example.com" not in throttled.text
    clock.advance(1)
    for _ in range(2):
        clock.advance(60)
        assert client.post("/auth/login", json=bad, headers=ANON).status_code == 401
    locked = client.post("/auth/login", json=bad, headers=ANON)
    assert locked.status_code == 429 and locked.headers["retry-after"] == "900"


def test_profiles_and_account_need_an_account_identity(client):
    for path in ("/profiles", "/accounts/me"):
        assert client.get(path, headers=ANON).status_code == 401
        assert client.get(path, headers=signed_headers()).status_code == 403
        assert client.get(path).status_code == 401  # unsigned: refused by the chassis


def test_signup_cannot_grant_roles_but_an_admin_can(client):
    smuggled = client.post(
        "/auth/signup",
        json={"email": "eve@example.com", "password": PASSWORD, "roles": ["admin"]},
        headers=ANON,
    )
    assert smuggled.status_code == 400
    assert smuggled.json()["errors"][0]["field"] == "body.roles"
    admin_body = {"email": "ops@example.com", "password": PASSWORD, "plan": "premium",
                  "roles": ["admin"]}  # fmt: skip
    viewer = signed_headers(Identity.account("1", plan="basic"))
    assert client.post("/admin/accounts", json=admin_body, headers=viewer).status_code == 403
    assert client.post("/admin/accounts", json=admin_body, headers=ANON).status_code == 403
    created = client.post("/admin/accounts", json=admin_body, headers=signed_headers())
    assert created.status_code == 201
    assert created.json()["roles"] == ["admin"]
    again = client.post("/admin/accounts", json=admin_body, headers=signed_headers())
    assert again.status_code == 409
    unknown_role = client.post(
        "/admin/accounts", json={**admin_body, "email": "x@example.com", "roles": ["root"]},
        headers=signed_headers(),
    )  # fmt: skip
    assert unknown_role.status_code == 400
    assert unknown_role.json()["errors"][0]["field"].startswith("body.roles")


def test_bad_bodies_name_the_field(client):
    cases = [
        ({"email": "a@example.com"}, "body.password"),
        ({"email": "not-an-email", "password": PASSWORD}, "body.email"),
        ({"email": "a@example.com", "password": "short"}, "body.password"),
        ({"email": "a@example.com", "password": PASSWORD, "plan": "gold"}, "body.plan"),
    ]
    for body, field in cases:
        response = client.post("/auth/signup", json=body, headers=ANON)
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["field"] == field
    tokens = signup(client)
    me = signed_headers(Identity.account(tokens["account_id"]))
    for body, field in [
        ({"name": ""}, "body.name"),
        ({"name": "Kid", "maturity": "toddler"}, "body.maturity"),
        ({"name": "Kid", "language": "english please"}, "body.language"),
        ({"name": "\x07bell"}, "body.name"),
    ]:
        response = client.post("/profiles", json=body, headers=me)
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["field"] == field
    assert client.get("/profiles/not%20an%20id", headers=me).status_code == 400


def test_admin_key_rotation_needs_admin(client):
    viewer = signed_headers(Identity.account("1"))
    assert client.post("/admin/keys/rotate", headers=viewer).status_code == 403
    admin = signed_headers(Identity.account("2", roles=("admin",)))
    rotated = client.post("/admin/keys/rotate", headers=admin)
    assert rotated.status_code == 201
    jwks = client.get("/.well-known/jwks.json", headers=ANON).json()
    assert rotated.json()["kid"] in {k["kid"] for k in jwks["keys"]}
    assert all("d" not in k for k in jwks["keys"])  # never a private half
