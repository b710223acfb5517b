"""What users knows about: accounts, profiles, plans, refresh tokens, signing keys.

Plain values and the errors the rules raise; the HTTP layer maps each error to a
status (``api/routes.py``) and storage adapters persist the values (``storage/``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_PLAN",
    "KNOWN_ROLES",
    "MATURITY_LEVELS",
    "PLANS",
    "Account",
    "AccountExists",
    "AccountNotFound",
    "AttemptState",
    "InvalidCredentials",
    "InvalidInput",
    "InvalidRefreshToken",
    "LoginThrottled",
    "Maturity",
    "Plan",
    "Profile",
    "ProfileLimitReached",
    "ProfileNotFound",
    "RefreshRecord",
    "RefreshReused",
    "SigningKey",
    "UsersError",
    "plan_named",
]

Maturity = Literal["kids", "teen", "adult"]
MATURITY_LEVELS: tuple[Maturity, ...] = ("kids", "teen", "adult")

# Roles an account can hold. Only ``POST /admin/accounts`` grants any; "service" is not
# one of them on purpose: it names the fleet's own processes, never a person.
KNOWN_ROLES = frozenset({"admin"})


@dataclass(frozen=True, slots=True)
class Plan:
    """A subscription plan: how many streams at once, and up to which picture height."""

    name: str
    max_streams: int
    max_height: int


PLANS: dict[str, Plan] = {
    "basic": Plan("basic", max_streams=1, max_height=720),
    "standard": Plan("standard", max_streams=2, max_height=1080),
    "premium": Plan("premium", max_streams=4, max_height=2160),
}
DEFAULT_PLAN = "standard"


def plan_named(name: str) -> Plan:
    """Return the plan called ``name``; raise InvalidInput for an unknown one."""
    try:
        return PLANS[name]
    except KeyError:
        raise InvalidInput("plan", f"unknown plan {name!r}; one of {sorted(PLANS)}") from None


@dataclass(frozen=True, slots=True)
class Account:
    """A paying customer: their sign-in, plan and roles."""

    id: str
    email: str
    password_hash: str
    plan: str = DEFAULT_PLAN
    roles: tuple[str, ...] = ()
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Profile:
    """One viewer of an account, with their own maturity level and language."""

    id: str
    account_id: str
    name: str
    maturity: Maturity = "adult"
    language: str = "en"
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class AttemptState:
    """Consecutive failed sign-ins for one email (whether or not an account has it)."""

    failures: int = 0
    last_failure_at: float = 0.0
    locked_until: float = 0.0


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    """A refresh token as stored: only its hash, its family and where it is in the chain."""

    token_hash: str
    family_id: str
    account_id: str
    generation: int
    issued_at: float
    expires_at: float
    # Set when this token was exchanged for the next one; presenting it again is reuse.
    rotated_at: float | None = None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key pair for access tokens; the private half is sealed (encrypted) at rest."""

    kid: str
    algorithm: str
    created_at: float
    public_jwk: dict[str, str] = field(default_factory=dict)
    sealed_private_key: bytes = b""


class UsersError(Exception):
    """Base of the errors the users rules raise."""


class InvalidInput(UsersError):
    """A value breaks a rule (password policy, email shape); names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AccountExists(UsersError):
    """An account already uses this email."""


class AccountNotFound(UsersError):
    """No account has this id (deleted after its token was issued, say)."""


class InvalidCredentials(UsersError):
    """Wrong password or unknown email: deliberately the same error for both."""


class LoginThrottled(UsersError):
    """Too many failed sign-ins for this email: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: float, locked: bool) -> None:
        super().__init__(f"sign-in refused for {retry_after:.0f}s")
        self.retry_after = retry_after
        self.locked = locked


class InvalidRefreshToken(UsersError):
    """The refresh token is unknown, expired or revoked."""


class RefreshReused(InvalidRefreshToken):
    """A rotated refresh token came back: its family has been revoked."""


class ProfileLimitReached(UsersError):
    """The account already has the maximum number of profiles."""


class ProfileNotFound(UsersError):
    """No profile with this id belongs to the caller's account."""
