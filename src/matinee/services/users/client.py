"""The typed client other services use to call users (DESIGN.md rule 2).

| usage | returns |
|---|---|
| ``await users.jwks()`` | ``{"keys": [...]}`` for ``tokens.AccessTokenVerifier`` |
| ``await users.get_profile(profile_id)`` | the caller's profile, None if not theirs or unknown |
| ``await users.me()`` / ``await users.profiles()`` | the caller's account / profiles |
| ``await users.create_account(email, password, plan=..., roles=[...])`` | admins and services |

Whose profile and account is decided by the identity the call carries: the request
being served forwards its caller's (see ``platform.identity``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from matinee.platform.http import CallFailed, ResponseError, ServiceClient
from matinee.services.users.api.schemas import AccountOut, AdminAccountOut, ProfileOut

__all__ = ["AccountOut", "CallFailed", "ProfileOut", "ResponseError", "UsersClient"]


class UsersClient:
    """Calls users through the resilient client; raises CallFailed or ResponseError."""

    service = "users"

    def __init__(self, http: ServiceClient) -> None:
        self._http = http

    async def jwks(self) -> dict[str, Any]:
        """Return the JSON Web Key Set that verifies access tokens."""
        response = (await self._http.request("GET", "/.well-known/jwks.json")).raise_for_status()
        jwks: dict[str, Any] = response.json()
        return jwks

    async def get_profile(self, profile_id: str) -> ProfileOut | None:
        """Return the caller's profile, None when it is not theirs or does not exist."""
        response = await self._http.request("GET", f"/profiles/{quote(profile_id, safe='')}")
        if response.status in (400, 404):
            return None
        return ProfileOut.model_validate_json(response.raise_for_status().body)

    async def profiles(self) -> list[ProfileOut]:
        """Return the caller's profiles, oldest first."""
        response = (await self._http.request("GET", "/profiles")).raise_for_status()
        return [ProfileOut.model_validate(p) for p in response.json()]

    async def me(self) -> AccountOut:
        """Return the caller's account and what its plan allows."""
        response = (await self._http.request("GET", "/accounts/me")).raise_for_status()
        return AccountOut.model_validate_json(response.body)

    async def create_account(
        self, email: str, password: str, *, plan: str = "standard", roles: Sequence[str] = ()
    ) -> AdminAccountOut:
        """Create an account with roles (admins and services only); 409 raises ResponseError."""
        response = await self._http.request(
            "POST",
            "/admin/accounts",
            json={"email": email, "password": password, "plan": plan, "roles": list(roles)},
        )
        return AdminAccountOut.model_validate_json(response.raise_for_status().body)
