"""The ports users depends on: storage, password hashing, token signing, time.

Adapters: ``storage.sql.SqlUsersStore`` and ``domain.memory.InMemoryUsersStore``
for the store, ``crypto.Argon2Hasher`` for passwords, ``crypto.JwtSigner`` for tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from matinee.services.users.domain.model import (
    Account,
    AttemptState,
    Profile,
    RefreshRecord,
    SigningKey,
)
from matinee.services.users.domain.rules import RefreshVerdict

__all__ = ["AccessTokenSigner", "Clock", "PasswordHasher", "UsersStore"]

Clock = Callable[[], float]


class UsersStore(Protocol):
    """Everything users persists. Each method is one atomic step."""

    # -- accounts
    async def add_account(self, account: Account, first_profile: Profile) -> None:
        """Insert an account with its first profile; raise AccountExists for a taken email."""
        ...

    async def account_by_email(self, email: str) -> Account | None:
        """Return the account with this (normalized) email, if any."""
        ...

    async def account_by_id(self, account_id: str) -> Account | None:
        """Return the account with this id, if any."""
        ...

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        """Replace an account's password hash (a rehash with stronger parameters)."""
        ...

    # -- sign-in attempts, keyed by a digest of the email
    async def update_attempts(
        self, email_key: str, change: Callable[[AttemptState | None], AttemptState | None]
    ) -> AttemptState | None:
        """Atomically replace the state with ``change(state)`` (None deletes); return it."""
        ...

    # -- profiles
    async def add_profile(self, profile: Profile, *, limit: int) -> None:
        """Insert a profile unless its account already has ``limit`` (ProfileLimitReached)."""
        ...

    async def profiles_of(self, account_id: str) -> Sequence[Profile]:
        """Return an account's profiles, oldest first."""
        ...

    async def delete_profile(self, account_id: str, profile_id: str) -> bool:
        """Delete one of the account's profiles; return whether it existed."""
        ...

    # -- refresh tokens
    async def add_refresh(self, record: RefreshRecord) -> None:
        """Store a new refresh token (the first of a family, at sign-in)."""
        ...

    async def rotate_refresh(
        self, token_hash: str, successor: Callable[[RefreshRecord], RefreshRecord], now: float
    ) -> tuple[RefreshVerdict, RefreshRecord | None]:
        """Exchange a refresh token atomically; return the verdict and the new record.

        A valid token is marked rotated and ``successor(old)`` stored in one step,
        so two concurrent exchanges of one token give one success and one reuse.
        On reuse the whole family is revoked.
        """
        ...

    async def revoke_family_of(self, token_hash: str) -> bool:
        """Revoke the family of the token with this hash; return whether it was known."""
        ...

    async def purge(self, now: float, *, forget_attempts_after: float) -> int:
        """Delete expired refresh tokens and stale sign-in counters; return how many."""
        ...

    # -- signing keys
    async def signing_keys(self) -> Sequence[SigningKey]:
        """Return every stored signing key."""
        ...

    async def add_signing_key(self, key: SigningKey, *, prune: Sequence[str] = ()) -> None:
        """Store a new signing key, deleting the keys named in ``prune``."""
        ...


class PasswordHasher(Protocol):
    """Slow, salted password hashing (argon2id in production)."""

    async def hash(self, password: str) -> str:
        """Return the encoded hash of ``password``."""
        ...

    async def verify(self, password_hash: str, password: str) -> bool:
        """Return whether ``password`` matches ``password_hash``."""
        ...

    async def burn(self, password: str) -> None:
        """Spend the time of one verification and learn nothing (unknown emails)."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Return whether a hash was made with weaker parameters than the current ones."""
        ...


class AccessTokenSigner(Protocol):
    """Turns claims into a signed access token, and key material into public JWKs."""

    def new_key(self, now: float) -> SigningKey:
        """Generate a fresh key pair, its private half sealed for storage."""
        ...

    def sign(self, key: SigningKey, claims: dict[str, Any]) -> str:
        """Return the compact JWT of ``claims`` signed with ``key`` (kid in the header)."""
        ...
