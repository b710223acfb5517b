"""Fakes for users unit tests: a clock moved by hand and a fast, transparent hasher."""

from __future__ import annotations

import time

from matinee.services.users.crypto import JwtSigner, KeySealer
from matinee.services.users.domain import LockoutPolicy, TokenPolicy, UsersService
from matinee.services.users.domain.memory import InMemoryUsersStore


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, now: float | None = None) -> None:
        # Starts at the real time: PyJWT checks ``exp`` against the real clock.
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeHasher:
    """Reversible 'hashing' that records what it was asked: the rules, not argon2, under test."""

    def __init__(self, scheme: str = "v1") -> None:
        self.scheme = scheme
        self.burned = 0
        self.verified = 0

    async def hash(self, password: str) -> str:
        return f"{self.scheme}${password}"

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return password_hash.partition("$")[2] == password

    async def burn(self, password: str) -> None:
        self.burned += 1

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"{self.scheme}$")


def make_service(
    clock: FakeClock | None = None,
    *,
    store: InMemoryUsersStore | None = None,
    hasher: FakeHasher | None = None,
    lockout: LockoutPolicy | None = None,
) -> tuple[UsersService, InMemoryUsersStore, FakeHasher, FakeClock]:
    clock = clock or FakeClock()
    store = store or InMemoryUsersStore()
    hasher = hasher or FakeHasher()
    service = UsersService(
        store,
        hasher,
        JwtSigner(KeySealer("unit-test-secret")),
        lockout=lockout,
        tokens=TokenPolicy(access_ttl=900, refresh_ttl=30 * 86400, key_cache_ttl=30),
        clock=clock,
    )
    return service, store, hasher, clock
