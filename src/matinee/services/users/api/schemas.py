"""Request and response bodies of the users API (HTTP <-> domain).

Inputs forbid unknown fields, so a sign-up cannot smuggle in ``roles``: the only
way to get a role is ``POST /admin/accounts``.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from matinee.services.users.domain import Account, Plan, Profile, TokenPair
from matinee.services.users.domain.model import InvalidInput
from matinee.services.users.domain.rules import (
    MAX_EMAIL_LENGTH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    normalize_email,
)

__all__ = [
    "AccountOut",
    "AdminAccountIn",
    "AdminAccountOut",
    "JwksOut",
    "LoginIn",
    "ProfileIn",
    "ProfileList",
    "ProfileOut",
    "ProfilePath",
    "RefreshIn",
    "SigningKeyOut",
    "SignupIn",
    "TokenOut",
]

PlanName = Literal["basic", "standard", "premium"]
MaturityName = Literal["kids", "teen", "adult"]
# BCP-47-ish: a 2-3 letter language, then subtags (region, script), e.g. en, pt-BR, zh-Hant-TW.
_LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$"
_ID = r"^[A-Za-z0-9_-]{1,64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=4096)


def _email(value: str) -> str:
    try:
        return normalize_email(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


class _Credentials(_Strict):
    # Raw length allows surrounding spaces; the normalized address is at most 254.
    email: str = Field(max_length=MAX_EMAIL_LENGTH + 64)

    @field_validator("email")
    @classmethod
    def _normalized(cls, value: str) -> str:
        return _email(value)


class SignupIn(_Credentials):
    """A new account: email, password and plan."""

    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    plan: PlanName = "standard"


class LoginIn(_Credentials):
    """Credentials to sign in with."""

    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class RefreshIn(_Strict):
    """A refresh token to exchange (refresh) or revoke (logout)."""

    refresh_token: str = Field(min_length=1, max_length=512)


class TokenOut(BaseModel):
    """A token pair: a short-lived access token (JWT) and a rotating refresh token."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: Literal["Bearer"] = "Bearer"
    account_id: str

    @classmethod
    def of(cls, pair: TokenPair) -> TokenOut:
        """Return the wire form of a token pair."""
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            account_id=pair.account_id,
        )


class AccountOut(BaseModel):
    """The signed-in account, with what its plan allows."""

    account_id: str
    email: str
    plan: str
    max_streams: int
    max_height: int
    roles: list[str]

    @classmethod
    def of(cls, account: Account, plan: Plan) -> AccountOut:
        """Return the wire form of an account and its plan."""
        return cls(
            account_id=account.id,
            email=account.email,
            plan=plan.name,
            max_streams=plan.max_streams,
            max_height=plan.max_height,
            roles=list(account.roles),
        )


class AdminAccountIn(SignupIn):
    """An account created by an admin (or the seed), possibly with roles."""

    roles: list[Literal["admin"]] = Field(default_factory=list, max_length=8)


class AdminAccountOut(BaseModel):
    """The account an admin created."""

    account_id: str
    email: str
    plan: str
    roles: list[str]


class ProfileIn(_Strict):
    """A new profile."""

    name: str = Field(min_length=1, max_length=50)
    maturity: MaturityName = "adult"
    language: str = Field(default="en", max_length=35, pattern=_LANGUAGE)

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        value = unicodedata.normalize("NFC", value).strip()
        if not value:
            raise ValueError("must not be blank")
        if any(unicodedata.category(ch).startswith("C") for ch in value):
            raise ValueError("must not contain control characters")
        return value


class ProfileOut(BaseModel):
    """A profile as clients read it."""

    id: str
    name: str
    maturity: str
    language: str

    @classmethod
    def of(cls, profile: Profile) -> ProfileOut:
        """Return the wire form of a profile."""
        return cls(
            id=profile.id, name=profile.name, maturity=profile.maturity, language=profile.language
        )


class ProfileList(RootModel[list[ProfileOut]]):
    """An account's profiles, oldest first."""


class ProfilePath(BaseModel):
    """Path of a single profile."""

    profile_id: str = Field(pattern=_ID)


class JwksOut(BaseModel):
    """A JSON Web Key Set: the public keys that verify access tokens."""

    keys: list[dict[str, str]]


class SigningKeyOut(BaseModel):
    """The new active signing key after a rotation (its public half only)."""

    kid: str
    algorithm: str
    created_at: float
