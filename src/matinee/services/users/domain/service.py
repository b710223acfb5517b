"""The use cases of users: sign up, sign in, refresh, profiles, keys.

Pure orchestration of the rules (``rules.py``) over the ports (``ports.py``);
the clock and id generation are arguments, so tests drive time by hand.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from matinee.services.users.domain.model import (
    KNOWN_ROLES,
    Account,
    AccountNotFound,
    AttemptState,
    InvalidCredentials,
    InvalidInput,
    InvalidRefreshToken,
    LoginThrottled,
    Maturity,
    Plan,
    Profile,
    ProfileNotFound,
    RefreshRecord,
    RefreshReused,
    SigningKey,
    plan_named,
)
from matinee.services.users.domain.ports import (
    AccessTokenSigner,
    Clock,
    PasswordHasher,
    UsersStore,
)
from matinee.services.users.domain.rules import (
    MAX_PROFILES,
    LockoutPolicy,
    RefreshVerdict,
    active_key,
    check_password,
    normalize_email,
    normalize_password,
    published_keys,
)

__all__ = ["TokenPair", "TokenPolicy", "UsersService", "digest", "new_id"]


def new_id() -> str:
    """Return a fresh opaque id (a random UUID)."""
    return str(uuid.uuid4())


def digest(secret: str) -> str:
    """Return the SHA-256 hex digest under which a secret (token, email) is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """Lifetimes and audience of the tokens users issues."""

    issuer: str = "matinee"
    audience: str = "matinee"
    access_ttl: float = 900.0
    refresh_ttl: float = 30 * 86400.0
    # How long an instance trusts its cached active key before rereading the store,
    # so a rotation made through another instance takes over within this time.
    key_cache_ttl: float = 30.0


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a successful sign-in or refresh returns to the device."""

    access_token: str
    refresh_token: str
    expires_in: int
    account_id: str


@dataclass
class _KeyCache:
    key: SigningKey | None = None
    loaded_at: float = field(default=float("-inf"))


class UsersService:
    """Accounts, profiles and tokens, over a store, a password hasher and a token signer."""

    def __init__(
        self,
        store: UsersStore,
        hasher: PasswordHasher,
        signer: AccessTokenSigner,
        *,
        lockout: LockoutPolicy | None = None,
        tokens: TokenPolicy | None = None,
        max_profiles: int = MAX_PROFILES,
        clock: Clock = time.time,
        ids: Callable[[], str] = new_id,
        token_bytes: int = 32,
    ) -> None:
        self.store = store
        self.hasher = hasher
        self.signer = signer
        self.lockout = lockout or LockoutPolicy()
        self.tokens = tokens or TokenPolicy()
        self.max_profiles = max_profiles
        self._clock = clock
        self._ids = ids
        self._token_bytes = token_bytes
        self._key = _KeyCache()

    # -- accounts -------------------------------------------------------------------------

    async def signup(self, email: str, password: str, plan: str) -> TokenPair:
        """Create an account with one default profile and sign it in."""
        account = await self.create_account(email, password, plan)
        return await self._start_session(account)

    async def create_account(
        self, email: str, password: str, plan: str, roles: Sequence[str] = ()
    ) -> Account:
        """Create an account (with its default profile); the only place roles are granted."""
        email = normalize_email(email)
        password = check_password(password, email=email)
        plan_named(plan)
        unknown = sorted(set(roles) - KNOWN_ROLES)
        if unknown:
            raise InvalidInput("roles", f"unknown roles {unknown}; known: {sorted(KNOWN_ROLES)}")
        now = self._clock()
        account = Account(
            id=self._ids(),
            email=email,
            password_hash=await self.hasher.hash(password),
            plan=plan,
            roles=tuple(sorted(set(roles))),
            created_at=now,
        )
        first = Profile(
            id=self._ids(), account_id=account.id, name=default_profile_name(email), created_at=now
        )
        await self.store.add_account(account, first)
        return account

    async def login(self, email: str, password: str) -> TokenPair:
        """Check the password and sign in; raise InvalidCredentials or LoginThrottled."""
        email = normalize_email(email)
        password = normalize_password(password)
        email_key = digest(email)
        now = self._clock()

        def admit(state: AttemptState | None) -> AttemptState:
            wait = self.lockout.wait(state, now)
            if wait > 0:
                current = self.lockout.current(state, now)
                raise LoginThrottled(wait, locked=bool(current.locked_until))
            # Counted as failed until proven right: parallel guesses all hit the counter.
            return self.lockout.failed(state, now)

        await self.store.update_attempts(email_key, admit)
        account = await self.store.account_by_email(email)
        if account is None:
            # Spend what a real check costs, so the answer's timing does not tell.
            await self.hasher.burn(password)
            raise InvalidCredentials("invalid email or password")
        if not await self.hasher.verify(account.password_hash, password):
            raise InvalidCredentials("invalid email or password")
        await self.store.update_attempts(email_key, lambda _state: None)
        if self.hasher.needs_rehash(account.password_hash):
            await self.store.set_password_hash(account.id, await self.hasher.hash(password))
        return await self._start_session(account)

    async def account(self, account_id: str) -> tuple[Account, Plan]:
        """Return an account and its plan; raise AccountNotFound."""
        account = await self.store.account_by_id(account_id)
        if account is None:
            raise AccountNotFound(account_id)
        return account, plan_named(account.plan)

    # -- tokens ---------------------------------------------------------------------------

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Exchange a refresh token for a new pair; a reused one revokes its family."""
        now = self._clock()
        fresh = self._new_refresh_token()

        def successor(old: RefreshRecord) -> RefreshRecord:
            return RefreshRecord(
                token_hash=digest(fresh),
                family_id=old.family_id,
                account_id=old.account_id,
                generation=old.generation + 1,
                issued_at=now,
                expires_at=now + self.tokens.refresh_ttl,
            )

        verdict, record = await self.store.rotate_refresh(digest(refresh_token), successor, now)
        if verdict is RefreshVerdict.REUSED:
            raise RefreshReused("refresh token reused; every session of this sign-in is revoked")
        if verdict is not RefreshVerdict.VALID or record is None:
            raise InvalidRefreshToken(f"refresh token {verdict.value}")
        account = await self.store.account_by_id(record.account_id)
        if account is None:
            await self.store.revoke_family_of(record.token_hash)
            raise InvalidRefreshToken("refresh token unknown")
        access = await self._access_token(account, now)
        return TokenPair(access, fresh, int(self.tokens.access_ttl), account.id)

    async def logout(self, refresh_token: str) -> None:
        """Revoke the sign-in session (the whole family) of a refresh token."""
        await self.store.revoke_family_of(digest(refresh_token))

    async def _start_session(self, account: Account) -> TokenPair:
        now = self._clock()
        token = self._new_refresh_token()
        await self.store.add_refresh(
            RefreshRecord(
                token_hash=digest(token),
                family_id=self._ids(),
                account_id=account.id,
                generation=0,
                issued_at=now,
                expires_at=now + self.tokens.refresh_ttl,
            )
        )
        access = await self._access_token(account, now)
        return TokenPair(access, token, int(self.tokens.access_ttl), account.id)

    def _new_refresh_token(self) -> str:
        return secrets.token_urlsafe(self._token_bytes)

    async def _access_token(self, account: Account, now: float) -> str:
        key = await self._signing_key(now)
        claims: dict[str, Any] = {
            "iss": self.tokens.issuer,
            "aud": self.tokens.audience,
            "sub": account.id,
            "plan": account.plan,
            "roles": list(account.roles),
            "iat": int(now),
            "exp": int(now + self.tokens.access_ttl),
            "jti": uuid.uuid4().hex,
        }
        return self.signer.sign(key, claims)

    async def purge_expired(self) -> int:
        """Forget expired refresh tokens and stale sign-in counters; return how many."""
        return await self.store.purge(
            self._clock(), forget_attempts_after=self.lockout.forget_after
        )

    # -- signing keys ---------------------------------------------------------------------

    async def ensure_signing_key(self) -> SigningKey:
        """Return the active signing key, creating the first one on a fresh database."""
        now = self._clock()
        key = active_key(await self.store.signing_keys())
        if key is None:
            # Two instances starting together may both create one: harmless, the newest
            # signs and both stay published.
            key = self.signer.new_key(now)
            await self.store.add_signing_key(key)
        self._key = _KeyCache(key, now)
        return key

    async def rotate_signing_key(self) -> SigningKey:
        """Make a new key the active one; older keys stay published while tokens need them."""
        now = self._clock()
        existing = list(await self.store.signing_keys())
        newest = active_key(existing)
        if newest is not None and newest.created_at >= now:
            # Keys are ordered by creation time: the new one must come strictly last.
            now = newest.created_at + 0.001
        key = self.signer.new_key(now)
        keep = {k.kid for k in published_keys([*existing, key], now, self.tokens.access_ttl)}
        await self.store.add_signing_key(key, prune=[k.kid for k in existing if k.kid not in keep])
        self._key = _KeyCache(key, now)
        return key

    async def jwks(self) -> list[dict[str, str]]:
        """Return the public JWKs a verifier needs now, the active key first."""
        now = self._clock()
        keys = published_keys(await self.store.signing_keys(), now, self.tokens.access_ttl)
        return [dict(k.public_jwk) for k in keys]

    async def check_signing(self) -> None:
        """Raise unless a token can be signed now (the key exists and unseals); for /readyz."""
        now = self._clock()
        self.signer.sign(await self._signing_key(now), {"iat": int(now)})

    async def _signing_key(self, now: float) -> SigningKey:
        cache = self._key
        if cache.key is not None and now - cache.loaded_at < self.tokens.key_cache_ttl:
            return cache.key
        return await self.ensure_signing_key()

    # -- profiles -------------------------------------------------------------------------

    async def profiles(self, account_id: str) -> Sequence[Profile]:
        """Return the account's profiles, oldest first."""
        return await self.store.profiles_of(account_id)

    async def profile(self, account_id: str, profile_id: str) -> Profile:
        """Return one of the account's profiles; raise ProfileNotFound for anyone else's."""
        for profile in await self.store.profiles_of(account_id):
            if profile.id == profile_id:
                return profile
        raise ProfileNotFound(profile_id)

    async def add_profile(
        self, account_id: str, name: str, maturity: Maturity = "adult", language: str = "en"
    ) -> Profile:
        """Add a profile; raise ProfileLimitReached past the limit."""
        profile = Profile(
            id=self._ids(),
            account_id=account_id,
            name=name.strip(),
            maturity=maturity,
            language=language,
            created_at=self._clock(),
        )
        if not profile.name:
            raise InvalidInput("name", "must not be blank")
        await self.store.add_profile(profile, limit=self.max_profiles)
        return profile

    async def delete_profile(self, account_id: str, profile_id: str) -> None:
        """Delete one of the account's profiles; raise ProfileNotFound otherwise."""
        if not await self.store.delete_profile(account_id, profile_id):
            raise ProfileNotFound(profile_id)


def default_profile_name(email: str) -> str:
    """Return the name of an account's first profile: the email's local part."""
    local = email.partition("@")[0].partition("+")[0] or email.partition("@")[0]
    return local[:50]
