"""Users against its real app on SQLite, served on 127.0.0.1: raw HTTP and UsersClient."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.http import HttpPool, ResponseError, ServiceClient
from matinee.platform.identity import Identity
from matinee.services.users.app import create_app
from matinee.services.users.client import UsersClient
from matinee.services.users.settings import UsersSettings
from matinee.services.users.tokens import AccessTokenVerifier
from tests.conftest import acting_as, signed_headers
from tests.contract.conftest import serve

ANON = signed_headers(Identity.anonymous())
ADMIN = signed_headers(Identity.account("ops", roles=("admin",)))
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path) -> UsersSettings:
    # Cheaper argon2 than production: these tests are about behaviour, not cost.
    return UsersSettings.of(data_dir=tmp_path, argon2_time_cost=1, argon2_memory_kib=8192)


@contextlib.asynccontextmanager
async def running(settings: UsersSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_app(settings)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        yield http


async def signup(http: httpx.AsyncClient, email: str, plan: str = "standard") -> dict:
    response = await http.post(
        "/auth/signup", json={"email": email, "password": PASSWORD, "plan": plan}, headers=ANON
    )
    assert response.status_code == 201, response.text
    return response.json()


async def jwks_of(http: httpx.AsyncClient) -> dict:
    response = await http.get("/.well-known/jwks.json", headers=signed_headers())
    assert response.status_code == 200
    return response.json()


async def test_signup_login_refresh_logout(settings):
    async with running(settings) as http:
        tokens = await signup(http, "Viewer@Example.com", "premium")
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
        login = await http.post(
            "/auth/login", json={"email": " viewer@example.COM", "password": PASSWORD}, headers=ANON
        )
        assert login.status_code == 200
        pair = login.json()
        assert set(pair) >= {"access_token", "refresh_token", "expires_in", "token_type"}

        refreshed = await http.post(
            "/auth/refresh", json={"refresh_token": pair["refresh_token"]}, headers=ANON
        )
        assert refreshed.status_code == 200
        new_refresh = refreshed.json()["refresh_token"]
        assert new_refresh != pair["refresh_token"]

        logout = await http.post("/auth/logout", json={"refresh_token": new_refresh}, headers=ANON)
        assert logout.status_code == 204 and logout.content == b""
        after = await http.post("/auth/refresh", json={"refresh_token": new_refresh}, headers=ANON)
        assert after.status_code == 401
        # The sign-up's own session is another family and still works.
        other = await http.post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, headers=ANON
        )
        assert other.status_code == 200

        taken = await http.post(
            "/auth/signup", json={"email": "VIEWER@example.com", "password": PASSWORD}, headers=ANON
        )
        assert taken.status_code == 409


async def test_reusing_a_rotated_refresh_token_revokes_the_family(settings):
    async with running(settings) as http:
        first = (await signup(http, "reuse@example.com"))["refresh_token"]
        second = (
            await http.post("/auth/refresh", json={"refresh_token": first}, headers=ANON)
        ).json()["refresh_token"]
        replay = await http.post("/auth/refresh", json={"refresh_token": first}, headers=ANON)
        assert replay.status_code == 401
        assert replay.headers["content-type"] == "application/problem+json"
        # The legitimate holder's newer token went down with the family.
        legit = await http.post("/auth/refresh", json={"refresh_token": second}, headers=ANON)
        assert legit.status_code == 401


async def test_wrong_password_and_unknown_email_are_indistinguishable(settings):
    async with running(settings) as http:
        await signup(http, "known@example.com")
        wrong = await http.post(
            "/auth/login",
            json={"email": "known@example.com", "password": "nope nope"},
            headers=ANON,
        )
        unknown = await http.post(
            "/auth/login",
            json={"email": "ghost@example.com", "password": "nope nope"},
            headers=ANON,
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.content == unknown.content
        assert wrong.headers["content-type"] == unknown.headers["content-type"]
        assert wrong.json()["detail"] == "invalid email or password"


async def test_repeated_failures_get_429_with_retry_after(settings):
    async with running(settings) as http:
        await signup(http, "target@example.com")
        bad = {"email": "target@example.com", "password": "guess guess"}
        for _ in range(5):
            assert (await http.post("/auth/login", json=bad, headers=ANON)).status_code == 401
        right = {"email": "target@example.com", "password": PASSWORD}
        slowed = await http.post("/auth/login", json=right, headers=ANON)
        assert slowed.status_code == 429
        assert int(slowed.headers["retry-after"]) >= 1


async def test_profiles_through_the_client_with_the_callers_identity(settings):
    async with running(settings) as http, HttpPool() as pool:
        port = http.base_url.port
        resolver = StaticDiscovery([Instance("users", "users-1", "127.0.0.1", port)])
        users = UsersClient(ServiceClient("users", resolver=resolver, transport=pool))
        mine = (await signup(http, "family@example.com", "basic"))["account_id"]
        theirs = (await signup(http, "neighbour@example.com"))["account_id"]
        me = signed_headers(Identity.account(mine))

        with acting_as(Identity.account(mine)):
            account = await users.me()
            assert (account.email, account.plan, account.max_streams, account.max_height) == (
                "family@example.com", "basic", 1, 720,
            )  # fmt: skip
            (default,) = await users.profiles()
            assert (default.name, default.maturity, default.language) == ("family", "adult", "en")
        for i in range(4):
            created = await http.post(
                "/profiles", json={"name": f"Kid {i}", "maturity": "kids", "language": "fr-CA"},
                headers=me,
            )  # fmt: skip
            assert created.status_code == 201
        sixth = await http.post("/profiles", json={"name": "One too many"}, headers=me)
        assert sixth.status_code == 409
        assert sixth.headers["content-type"] == "application/problem+json"

        kid = created.json()
        with acting_as(Identity.account(mine)):
            found = await users.get_profile(kid["id"])
            assert found is not None and found.maturity == "kids" and found.language == "fr-CA"
        with acting_as(Identity.account(theirs)):
            assert await users.get_profile(kid["id"]) is None
            assert await users.get_profile("no such/profile") is None
        with acting_as(Identity.anonymous()), pytest.raises(ResponseError) as info:
            await users.profiles()
        assert info.value.status == 401

        theirs_headers = signed_headers(Identity.account(theirs))
        assert (
            await http.delete(f"/profiles/{kid['id']}", headers=theirs_headers)
        ).status_code == 404
        assert (await http.delete(f"/profiles/{kid['id']}", headers=me)).status_code == 204
        assert (await http.get(f"/profiles/{kid['id']}", headers=me)).status_code == 404
        again = await http.post("/profiles", json={"name": "Room again"}, headers=me)
        assert again.status_code == 201


async def test_jwks_verifies_issued_tokens_and_rotation_keeps_old_ones_valid(settings):
    async with running(settings) as http:
        old = await signup(http, "keys@example.com", "premium")
        jwks = await jwks_of(http)
        (key,) = jwks["keys"]
        assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
        assert "d" not in key
        # Plain PyJWT with the published key, as any verifier would.
        claims = jwt.decode(
            old["access_token"], jwt.PyJWK(key).key, algorithms=["EdDSA"],
            audience="matinee", issuer="matinee",
        )  # fmt: skip
        assert claims["sub"] == old["account_id"] and claims["plan"] == "premium"
        assert claims["exp"] - claims["iat"] == 900 and claims["jti"]

        viewer = signed_headers(Identity.account(old["account_id"]))
        assert (await http.post("/admin/keys/rotate", headers=viewer)).status_code == 403
        rotated = await http.post("/admin/keys/rotate", headers=ADMIN)
        assert rotated.status_code == 201
        new_kid = rotated.json()["kid"]

        new = (
            await http.post(
                "/auth/login", json={"email": "keys@example.com", "password": PASSWORD},
                headers=ANON,
            )
        ).json()  # fmt: skip
        assert jwt.get_unverified_header(new["access_token"])["kid"] == new_kid
        verifier = AccessTokenVerifier(await jwks_of(http))
        assert verifier.kids == {key["kid"], new_kid}
        assert verifier.verify(old["access_token"]).account_id == old["account_id"]
        assert verifier.verify(new["access_token"]).plan == "premium"


async def test_admin_creates_accounts_with_roles(settings):
    async with running(settings) as http, HttpPool() as pool:
        port = http.base_url.port
        resolver = StaticDiscovery([Instance("users", "users-1", "127.0.0.1", port)])
        users = UsersClient(ServiceClient("users", resolver=resolver, transport=pool))
        with acting_as(Identity.of_service("seed")):
            created = await users.create_account(
                "admin@matinee.local", PASSWORD, plan="premium", roles=["admin"]
            )
            assert created.roles == ["admin"]
            with pytest.raises(ResponseError) as info:
                await users.create_account("admin@matinee.local", PASSWORD)
            assert info.value.status == 409
        login = await http.post(
            "/auth/login", json={"email": "admin@matinee.local", "password": PASSWORD}, headers=ANON
        )
        token = login.json()["access_token"]
        assert jwt.decode(token, options={"verify_signature": False})["roles"] == ["admin"]


async def test_bad_requests_name_the_field_and_unsigned_calls_are_refused(settings):
    async with running(settings) as http:
        malformed = await http.post(
            "/auth/signup", content=b'{"email": "a@example.com", "password": ',
            headers={**ANON, "content-type": "application/json"},
        )  # fmt: skip
        assert malformed.status_code == 400
        assert malformed.json()["errors"][0]["field"] == "body"
        missing = await http.post("/auth/login", json={"email": "a@example.com"}, headers=ANON)
        assert missing.status_code == 400
        assert missing.json()["errors"][0]["field"] == "body.password"
        long_password = await http.post(
            "/auth/signup", json={"email": "a@example.com", "password": "x" * 129}, headers=ANON
        )
        assert long_password.json()["errors"][0]["field"] == "body.password"
        long_email = await http.post(
            "/auth/signup", json={"email": "a" * 60 + "@" + "b" * 200 + ".com",
                                  "password": PASSWORD}, headers=ANON,
        )  # fmt: skip
        assert long_email.json()["errors"][0]["field"] == "body.email"
        unsigned = await http.post(
            "/auth/login", json={"email": "a@example.com", "password": PASSWORD}
        )
        assert unsigned.status_code == 401
        assert unsigned.headers["content-type"] == "application/problem+json"
        assert (await http.get("/.well-known/jwks.json")).status_code == 401


async def test_two_instances_share_accounts_keys_and_reuse_detection(settings):
    async with running(settings) as a, running(settings) as b:
        tokens = await signup(a, "shared@example.com")
        assert (await jwks_of(a))["keys"] == (await jwks_of(b))["keys"]
        login = await b.post(
            "/auth/login", json={"email": "shared@example.com", "password": PASSWORD}, headers=ANON
        )
        assert login.status_code == 200
        # The same refresh token presented to both at once: one rotation wins, the
        # other is reuse and revokes the family, so nobody keeps a live token.
        body = {"refresh_token": tokens["refresh_token"]}
        answers = await asyncio.gather(
            a.post("/auth/refresh", json=body, headers=ANON),
            b.post("/auth/refresh", json=body, headers=ANON),
        )
        assert sorted(r.status_code for r in answers) == [200, 401]
        (winner,) = [r.json() for r in answers if r.status_code == 200]
        again = await a.post(
            "/auth/refresh", json={"refresh_token": winner["refresh_token"]}, headers=ANON
        )
        assert again.status_code == 401


async def test_keys_and_accounts_survive_a_restart_and_need_their_secret(settings, tmp_path):
    async with running(settings) as http:
        tokens = await signup(http, "durable@example.com")
        kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    async with running(settings) as http:
        login = await http.post(
            "/auth/login", json={"email": "durable@example.com", "password": PASSWORD}, headers=ANON
        )
        assert jwt.get_unverified_header(login.json()["access_token"])["kid"] == kid
    wrong_secret = UsersSettings.of(
        data_dir=tmp_path, key_secret="another secret", argon2_time_cost=1, argon2_memory_kib=8192
    )
    async with running(wrong_secret) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert "signing_key" in ready.json()["checks"]
        assert ready.json()["checks"]["signing_key"] != "ok"
        login = await http.post(
            "/auth/login", json={"email": "durable@example.com", "password": PASSWORD}, headers=ANON
        )
        assert login.status_code == 503  # a clear outage, never a token signed by a wrong key
