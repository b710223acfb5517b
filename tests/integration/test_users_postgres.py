"""Users storage on real PostgreSQL: the rules hold when instances race on one database."""

from __future__ import annotations

import asyncio

import httpx
import jwt
import pytest

from matinee.platform.identity import Identity
from matinee.platform.storage import Database
from matinee.services.users.app import create_app
from matinee.services.users.crypto import JwtSigner, KeySealer
from matinee.services.users.domain import (
    AccountExists,
    InvalidCredentials,
    InvalidRefreshToken,
    LockoutPolicy,
    LoginThrottled,
    ProfileLimitReached,
    RefreshReused,
    TokenPolicy,
    UsersService,
)
from matinee.services.users.settings import UsersSettings
from matinee.services.users.storage import MIGRATIONS, SqlUsersStore
from tests.conftest import signed_headers
from tests.contract.conftest import serve
from tests.unit.users.fakes import FakeHasher

pytestmark = pytest.mark.postgres

PASSWORD = "correct horse battery"


@pytest.fixture
async def database(postgres_url):
    db = Database("users", postgres_url)
    assert await db.start(MIGRATIONS)
    yield db
    await db.close()


def service(database: Database, **kw) -> UsersService:
    """One 'instance' of users: its own service object over the shared database."""
    return UsersService(
        SqlUsersStore(database),
        FakeHasher(),
        JwtSigner(KeySealer("integration-secret")),
        tokens=TokenPolicy(),
        **kw,
    )


async def test_accounts_profiles_and_tokens_round_trip(database):
    users = service(database)
    await users.ensure_signing_key()
    pair = await users.signup("Pg@Example.com", PASSWORD, "premium")
    account, plan = await users.account(pair.account_id)
    assert account.email == "pg@example.com" and plan.max_streams == 4
    with pytest.raises(AccountExists):
        await users.signup("pg@example.com", PASSWORD, "basic")
    with pytest.raises(InvalidCredentials):
        await users.login("pg@example.com", "wrong password")
    again = await users.login("pg@example.com", PASSWORD)
    rotated = await users.refresh(again.refresh_token)
    with pytest.raises(RefreshReused):
        await users.refresh(again.refresh_token)
    with pytest.raises(InvalidRefreshToken):  # revoked with its family
        await users.refresh(rotated.refresh_token)
    assert await users.store.purge(1e12, forget_attempts_after=0) >= 2
    # A restart (a new service object) reads the same key back and unseals it.
    assert (await service(database).ensure_signing_key()).kid == (
        await users.ensure_signing_key()
    ).kid


async def test_concurrent_profile_additions_stop_at_five(database):
    users = [service(database) for _ in range(3)]
    account = (await users[0].signup("many@example.com", PASSWORD, "premium")).account_id
    results = await asyncio.gather(
        *(users[i % 3].add_profile(account, f"P{i}") for i in range(8)), return_exceptions=True
    )
    assert sum(isinstance(r, ProfileLimitReached) for r in results) == 4
    assert len(await users[0].profiles(account)) == 5


async def test_concurrent_refreshes_of_one_token_never_leave_two_live_sessions(database):
    a, b = service(database), service(database)
    pair = await a.signup("race@example.com", PASSWORD, "basic")
    results = await asyncio.gather(
        a.refresh(pair.refresh_token), b.refresh(pair.refresh_token), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1 and any(isinstance(r, RefreshReused) for r in results)
    with pytest.raises(InvalidRefreshToken):
        await a.refresh(winners[0].refresh_token)


async def test_concurrent_bad_guesses_all_count(database):
    policy = LockoutPolicy(delay_after=100, lock_after=100)
    instances = [service(database, lockout=policy) for _ in range(4)]
    await instances[0].signup("guessed@example.com", PASSWORD, "basic")
    await asyncio.gather(
        *(instances[i % 4].login("guessed@example.com", f"guess {i}") for i in range(20)),
        return_exceptions=True,
    )
    strict = service(database, lockout=LockoutPolicy(delay_after=20, lock_after=20))
    with pytest.raises(LoginThrottled):
        await strict.login("guessed@example.com", PASSWORD)


async def test_first_signing_keys_from_racing_instances_are_all_published(database):
    instances = [service(database) for _ in range(3)]
    await asyncio.gather(*(users.ensure_signing_key() for users in instances))
    published = {k["kid"] for k in await instances[0].jwks()}
    pair = await instances[1].signup("keys@example.com", PASSWORD, "basic")
    assert jwt.get_unverified_header(pair.access_token)["kid"] in published


async def test_the_app_serves_from_its_postgres_database(postgres_url, tmp_path):
    settings = UsersSettings.of(
        data_dir=tmp_path, database_url=postgres_url, argon2_time_cost=1, argon2_memory_kib=8192
    )
    anon = signed_headers(Identity.anonymous())
    async with (
        serve(create_app(settings)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        assert (await http.get("/readyz")).status_code == 200
        signup = await http.post(
            "/auth/signup", json={"email": "app@example.com", "password": PASSWORD}, headers=anon
        )
        assert signup.status_code == 201
        me = signed_headers(Identity.account(signup.json()["account_id"]))
        profiles = (await http.get("/profiles", headers=me)).json()
        assert [p["name"] for p in profiles] == ["app"]
