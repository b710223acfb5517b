"""Access tokens at the edge: verify once against users' JWKS, then trust the cache.

The rules of verification are users' (``services/users/tokens.py``: asymmetric
algorithms from the key only, iss/aud/exp); this module adds what the edge needs
on top: a bounded cache (oldest out first) of verified tokens kept until they
expire, a JWKS that is refreshed periodically and on an unknown ``kid`` (at most
once per gap), and a state for "users' keys were never loaded" (the edge answers
503, not 401).

| usage | effect |
|---|---|
| ``auth = TokenAuthority(fetch_jwks)`` | ``fetch_jwks`` is an async callable -> JWKS dict |
| ``auth.cached(token, now)`` | a :class:`VerifiedToken` from the cache, or None |
| ``auth.verify(token, now)`` | verify (sync, crypto) and cache; raises TokenRejected |
| ``await auth.verify_refreshing(token, now)`` | same, refetching the JWKS on an unknown kid |
| ``await auth.run()`` | keep the JWKS fresh (a background task) |
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from matinee.services.users.tokens import AccessTokenVerifier, TokenRejected, UnknownSigningKey

__all__ = [
    "KeysUnavailable",
    "TokenAuthority",
    "TokenRejected",
    "UnknownSigningKey",
    "VerifiedToken",
]

log = logging.getLogger("matinee.gateway.tokens")

FetchJwks = Callable[[], Awaitable[Mapping[str, Any]]]


class KeysUnavailable(Exception):
    """Users' signing keys could not be fetched yet: no token can be checked."""


class VerifiedToken:
    """What the edge keeps about a verified access token."""

    __slots__ = ("account_id", "edge_header", "edge_header_until", "expires_at", "plan", "roles")

    def __init__(self, account_id: str, plan: str, roles: tuple[str, ...], expires_at: float):
        self.account_id = account_id
        self.plan = plan
        self.roles = roles
        self.expires_at = expires_at
        # The edge's signed identity header for this bearer, re-signed when it gets old.
        self.edge_header = b""
        self.edge_header_until = 0.0

    @property
    def is_admin(self) -> bool:
        """Tell whether the bearer has the admin role."""
        return "admin" in self.roles


class TokenAuthority:
    """Verified-token cache plus the JWKS it verifies against."""

    def __init__(
        self,
        fetch_jwks: FetchJwks,
        *,
        cache_size: int = 100_000,
        refresh_interval: float = 300.0,
        retry_interval: float = 2.0,
        min_refresh_gap: float = 5.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._fetch = fetch_jwks
        self._verifier = AccessTokenVerifier({"keys": []})
        # Insertion order, not recency: the oldest verification is evicted first, so a
        # hit costs one read and no reordering (an evicted token in use is verified again).
        self._cache: OrderedDict[bytes, VerifiedToken] = OrderedDict()
        self._cache_size = cache_size
        self.refresh_interval = refresh_interval
        self.retry_interval = retry_interval
        self.min_refresh_gap = min_refresh_gap
        self._clock = clock
        self.loaded = False
        self._last_refresh = float("-inf")
        self._refreshing: asyncio.Future[bool] | None = None

    def cached(self, token: bytes, now: float) -> VerifiedToken | None:
        """Return the cached verification of ``token`` if it has not expired."""
        entry = self._cache.get(token)
        if entry is None:
            return None
        if entry.expires_at <= now:
            del self._cache[token]
            return None
        return entry

    def verify(self, token: bytes, now: float) -> VerifiedToken:
        """Verify ``token`` against the known keys and cache it until it expires."""
        entry = self.cached(token, now)
        if entry is not None:
            return entry
        if not self.loaded:
            raise KeysUnavailable("users' signing keys are not loaded yet")
        claims = self._verifier.verify(token.decode("latin-1"))
        entry = VerifiedToken(claims.account_id, claims.plan, claims.roles, claims.expires_at)
        if claims.expires_at > now:
            self._cache[token] = entry
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return entry

    async def verify_refreshing(self, token: bytes, now: float) -> VerifiedToken:
        """Verify ``token``; on an unknown key or no keys, refetch the JWKS (rate-limited) once."""
        try:
            return self.verify(token, now)
        except (UnknownSigningKey, KeysUnavailable):
            await self.refresh(force=False)
        return self.verify(token, now)

    def load(self, jwks: Mapping[str, Any]) -> None:
        """Trust the keys of ``jwks`` from now on."""
        self._verifier.update(jwks)
        self.loaded = True

    async def refresh(self, *, force: bool = True) -> bool:
        """Fetch the JWKS now (unless fetched within the gap and not forced); tell if it worked."""
        if self._refreshing is not None:
            return await asyncio.shield(self._refreshing)
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not force and now - self._last_refresh < self.min_refresh_gap:
            return False
        self._last_refresh = now
        future: asyncio.Future[bool] = loop.create_future()
        self._refreshing = future
        try:
            try:
                jwks = await self._fetch()
                self.load(jwks)
                ok = True
            except Exception as exc:  # users down or answering garbage: keep the old keys
                log.warning("cannot fetch users' JWKS: %s", exc)
                ok = False
            future.set_result(ok)
            return ok
        finally:
            self._refreshing = None

    async def run(self) -> None:
        """Refresh the JWKS forever: quickly until the first success, then periodically."""
        while True:
            ok = await self.refresh(force=True)
            await asyncio.sleep(self.refresh_interval if ok or self.loaded else self.retry_interval)

    def __len__(self) -> int:
        return len(self._cache)
