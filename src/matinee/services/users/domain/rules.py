"""The rules of users, as pure functions of values and the time ``now``.

| rule | function |
|---|---|
| emails compare stripped and lower-cased; a simple shape check | ``normalize_email`` |
| passwords are 8..128 characters, NFKC-normalized, not blank, not the email | ``check_password`` |
| failed sign-ins slow down, then lock | ``LockoutPolicy.admit`` / ``.failed`` |
| a refresh token is good once; a second use is reuse | ``judge_refresh`` |
| at most N profiles per account | ``ensure_room_for_profile`` |
| which signing keys the JWKS publishes | ``published_keys`` / ``active_key`` |
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from matinee.services.users.domain.model import (
    AttemptState,
    InvalidInput,
    ProfileLimitReached,
    RefreshRecord,
    SigningKey,
)

__all__ = [
    "MAX_EMAIL_LENGTH",
    "MAX_PASSWORD_LENGTH",
    "MAX_PROFILES",
    "MIN_PASSWORD_LENGTH",
    "LockoutPolicy",
    "RefreshVerdict",
    "active_key",
    "check_password",
    "ensure_room_for_profile",
    "judge_refresh",
    "normalize_email",
    "normalize_password",
    "published_keys",
]

MAX_EMAIL_LENGTH = 254
MIN_PASSWORD_LENGTH = 8
# Bounded so that hashing cost cannot be driven up by a huge "password".
MAX_PASSWORD_LENGTH = 128
MAX_PROFILES = 5

# Deliberately simple (not RFC 5322): one @, no spaces, a dot in the domain.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.][^@\s]*\.[^@\s.]+$")


def normalize_email(raw: str) -> str:
    """Return the email stripped and lower-cased; raise InvalidInput if it is not one."""
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidInput("email", f"at most {MAX_EMAIL_LENGTH} characters")
    if not _EMAIL.match(email) or ".." in email.partition("@")[2]:
        raise InvalidInput("email", "not an email address")
    if any(unicodedata.category(ch).startswith("C") for ch in email):
        raise InvalidInput("email", "contains control characters")
    return email


def normalize_password(raw: str) -> str:
    """Return the password in NFKC form, so the same typed text always hashes the same."""
    return unicodedata.normalize("NFKC", raw)


def check_password(password: str, *, email: str = "") -> str:
    """Return the normalized password if the policy accepts it; raise InvalidInput if not."""
    normalized = normalize_password(password)
    if len(normalized) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"at least {MIN_PASSWORD_LENGTH} characters")
    if len(normalized) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("password", f"at most {MAX_PASSWORD_LENGTH} characters")
    if not normalized.strip():
        raise InvalidInput("password", "must not be only spaces")
    if email and normalized.strip().lower() == email:
        raise InvalidInput("password", "must not be the email address")
    return normalized


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """Slow down, then lock, sign-ins for an email after consecutive failures.

    Up to ``delay_after`` failures nothing happens. Past it, each further attempt must
    wait ``base_delay * 2**(failures - delay_after)`` seconds (at most ``max_delay``)
    after the last failure. At ``lock_after`` failures the email is locked for
    ``lock_seconds``. Failures older than ``forget_after`` seconds no longer count, and
    a successful sign-in forgets them all. Every attempt counts as a failure until its
    password is proven right (``failed`` is applied before the check), so concurrent
    guesses cannot slip past the counter.
    """

    delay_after: int = 5
    lock_after: int = 10
    base_delay: float = 1.0
    max_delay: float = 60.0
    lock_seconds: float = 900.0
    forget_after: float = 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.delay_after <= self.lock_after:
            raise ValueError("need 0 < delay_after <= lock_after")

    def current(self, state: AttemptState | None, now: float) -> AttemptState:
        """Return the state that still counts at ``now`` (expired locks and old failures drop)."""
        if state is None:
            return AttemptState()
        if state.locked_until and now >= state.locked_until:
            return AttemptState()
        if state.failures and now - state.last_failure_at >= self.forget_after:
            return AttemptState()
        return state

    def wait(self, state: AttemptState | None, now: float) -> float:
        """Return how many seconds the next attempt must still wait (0: it may go now)."""
        state = self.current(state, now)
        if state.locked_until:
            return state.locked_until - now
        if state.failures < self.delay_after:
            return 0.0
        delay = min(self.max_delay, self.base_delay * 2 ** (state.failures - self.delay_after))
        return max(0.0, state.last_failure_at + delay - now)

    def failed(self, state: AttemptState | None, now: float) -> AttemptState:
        """Return the state after one more failure at ``now``."""
        state = self.current(state, now)
        failures = state.failures + 1
        locked_until = now + self.lock_seconds if failures >= self.lock_after else 0.0
        return AttemptState(failures=failures, last_failure_at=now, locked_until=locked_until)

    @staticmethod
    def retry_after_header(wait: float) -> str:
        """Return the Retry-After value (whole seconds, at least 1) for a wait."""
        return str(max(1, math.ceil(wait)))


class RefreshVerdict(Enum):
    """What presenting a refresh token means."""

    VALID = "valid"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    # Already exchanged once: someone holds a copy. The whole family must be revoked.
    REUSED = "reused"


def judge_refresh(record: RefreshRecord | None, now: float) -> RefreshVerdict:
    """Return the verdict on presenting the refresh token stored as ``record``."""
    if record is None:
        return RefreshVerdict.UNKNOWN
    if record.revoked:
        return RefreshVerdict.REVOKED
    if record.rotated_at is not None:
        return RefreshVerdict.REUSED
    if now >= record.expires_at:
        return RefreshVerdict.EXPIRED
    return RefreshVerdict.VALID


def ensure_room_for_profile(existing: int, limit: int = MAX_PROFILES) -> None:
    """Raise ProfileLimitReached when an account with ``existing`` profiles is full."""
    if existing >= limit:
        raise ProfileLimitReached(f"an account has at most {limit} profiles")


def _newest_first(keys: Sequence[SigningKey]) -> list[SigningKey]:
    return sorted(keys, key=lambda k: (k.created_at, k.kid), reverse=True)


def active_key(keys: Sequence[SigningKey]) -> SigningKey | None:
    """Return the key that signs new tokens: the newest one."""
    ordered = _newest_first(keys)
    return ordered[0] if ordered else None


def published_keys(keys: Sequence[SigningKey], now: float, token_ttl: float) -> list[SigningKey]:
    """Return the keys the JWKS must show: the active one and every key a live token may use.

    A key stops signing when a newer key is created; tokens it signed live at most
    ``token_ttl`` more seconds (plus a minute of clock skew), and until then it stays.
    """
    ordered = _newest_first(keys)
    shown = ordered[:1]
    for older, successor in zip(ordered[1:], ordered, strict=False):
        if now < successor.created_at + token_ttl + 60.0:
            shown.append(older)
    return shown
