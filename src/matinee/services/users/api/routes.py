"""Users routes: sign-up and sign-in, tokens, keys, the account and its profiles.

Domain errors map to statuses here and nowhere else:

| domain error | status |
|---|---|
| ``InvalidInput`` | 400, ``errors[0].field`` names the field (``body.password``) |
| ``InvalidCredentials`` (wrong password *or* unknown email, same body) | 401 |
| ``InvalidRefreshToken``, ``RefreshReused`` (family revoked) | 401 |
| ``LoginThrottled`` (slowed down or locked) | 429 with ``Retry-After`` |
| ``AccountExists``, ``ProfileLimitReached`` | 409 |
| ``ProfileNotFound`` (also someone else's profile) | 404 |
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.responses import Response

from matinee.platform.api import Router, json_response
from matinee.platform.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    problem_response,
)
from matinee.platform.identity import Identity, require_admin
from matinee.services.users.api.schemas import (
    AccountOut,
    AdminAccountIn,
    AdminAccountOut,
    JwksOut,
    LoginIn,
    ProfileIn,
    ProfileList,
    ProfileOut,
    ProfilePath,
    RefreshIn,
    SigningKeyOut,
    SignupIn,
    TokenOut,
)
from matinee.services.users.domain import (
    AccountExists,
    AccountNotFound,
    InvalidCredentials,
    InvalidInput,
    InvalidRefreshToken,
    LockoutPolicy,
    LoginThrottled,
    ProfileLimitReached,
    ProfileNotFound,
    UsersService,
)

__all__ = ["build_router"]

_NO_CONTENT = 204
# Verifiers may cache the key set this long; a kid they miss makes them fetch it again.
_JWKS_CACHE = "public, max-age=60"


@contextmanager
def _as_problems() -> Iterator[None]:
    try:
        yield
    except InvalidInput as exc:
        field = f"body.{exc.field}"
        raise BadRequest(
            f"{field}: {exc.message}", errors=[{"field": field, "message": exc.message}]
        ) from None
    except AccountExists:
        raise Conflict("an account with this email already exists") from None
    except InvalidCredentials:
        raise Unauthorized("invalid email or password") from None
    except InvalidRefreshToken as exc:
        raise Unauthorized(str(exc)) from None
    except ProfileLimitReached as exc:
        raise Conflict(str(exc)) from None
    except ProfileNotFound:
        raise NotFound("no such profile") from None
    except AccountNotFound:
        raise Unauthorized("this account no longer exists") from None


def _account_id(identity: Identity) -> str:
    """Return the caller's account id; 401 for nobody, 403 for a caller that is no account."""
    if identity.kind == "account" and identity.account_id:
        return identity.account_id
    if identity.kind == "anonymous":
        raise Unauthorized("sign in first")
    raise Forbidden("only a signed-in account has an account and profiles")


def build_router(users: UsersService) -> Router:
    """Return the users routes bound to the use cases."""
    router = Router(tags=["users"])

    @router.post("/auth/signup", body=SignupIn, response=TokenOut, status=201, max_body=8192)
    async def signup(body: SignupIn) -> TokenOut:
        """Create an account with one profile and sign it in; 409 if the email is taken."""
        with _as_problems():
            return TokenOut.of(await users.signup(body.email, body.password, body.plan))

    @router.post("/auth/login", body=LoginIn, response=TokenOut, max_body=8192)
    async def login(body: LoginIn) -> Response:
        """Sign in; 401 for a wrong password or unknown email alike, 429 after many failures."""
        try:
            with _as_problems():
                pair = await users.login(body.email, body.password)
        except LoginThrottled as exc:
            return problem_response(
                429,
                "Too Many Requests",
                "too many failed sign-ins for this email; try again later",
                instance="/auth/login",
                headers={"Retry-After": LockoutPolicy.retry_after_header(exc.retry_after)},
                retry_after=int(LockoutPolicy.retry_after_header(exc.retry_after)),
            )
        return json_response(TokenOut.of(pair))

    @router.post("/auth/refresh", body=RefreshIn, response=TokenOut, max_body=8192)
    async def refresh(body: RefreshIn) -> TokenOut:
        """Exchange a refresh token for a new pair; reusing an old one revokes them all."""
        with _as_problems():
            return TokenOut.of(await users.refresh(body.refresh_token))

    @router.post("/auth/logout", body=RefreshIn, status=_NO_CONTENT, max_body=8192)
    async def logout(body: RefreshIn) -> Response:
        """Revoke the sign-in session of a refresh token (unknown tokens too: 204)."""
        await users.logout(body.refresh_token)
        return Response(status_code=_NO_CONTENT)

    @router.get("/.well-known/jwks.json", response=JwksOut)
    async def jwks() -> Response:
        """Return the public keys that verify access tokens (JWKS)."""
        return json_response({"keys": await users.jwks()}, headers={"Cache-Control": _JWKS_CACHE})

    @router.post("/admin/keys/rotate", response=SigningKeyOut, status=201)
    async def rotate_key(identity: Identity) -> SigningKeyOut:
        """Make a new signing key active; older keys stay published while tokens use them."""
        require_admin(identity)
        key = await users.rotate_signing_key()
        return SigningKeyOut(kid=key.kid, algorithm=key.algorithm, created_at=key.created_at)

    @router.post("/admin/accounts", body=AdminAccountIn, response=AdminAccountOut, status=201)
    async def create_account(body: AdminAccountIn, identity: Identity) -> AdminAccountOut:
        """Create an account with roles (the only way to get one); admins and services only."""
        require_admin(identity)
        with _as_problems():
            account = await users.create_account(body.email, body.password, body.plan, body.roles)
        return AdminAccountOut(
            account_id=account.id, email=account.email, plan=account.plan, roles=list(account.roles)
        )

    @router.get("/accounts/me", response=AccountOut)
    async def me(identity: Identity) -> AccountOut:
        """Return the signed-in account and what its plan allows."""
        with _as_problems():
            return AccountOut.of(*await users.account(_account_id(identity)))

    @router.get("/profiles", response=ProfileList)
    async def list_profiles(identity: Identity) -> ProfileList:
        """List the account's profiles, oldest first."""
        found = await users.profiles(_account_id(identity))
        return ProfileList([ProfileOut.of(p) for p in found])

    @router.post("/profiles", body=ProfileIn, response=ProfileOut, status=201, max_body=8192)
    async def add_profile(body: ProfileIn, identity: Identity) -> ProfileOut:
        """Add a profile; 409 when the account already has the maximum."""
        account_id = _account_id(identity)
        with _as_problems():
            profile = await users.add_profile(account_id, body.name, body.maturity, body.language)
        return ProfileOut.of(profile)

    @router.get("/profiles/{profile_id}", path_model=ProfilePath, response=ProfileOut)
    async def get_profile(path: ProfilePath, identity: Identity) -> ProfileOut:
        """Return one of the account's profiles; 404 for anyone else's."""
        with _as_problems():
            return ProfileOut.of(await users.profile(_account_id(identity), path.profile_id))

    @router.delete("/profiles/{profile_id}", path_model=ProfilePath, status=_NO_CONTENT)
    async def delete_profile(path: ProfilePath, identity: Identity) -> Response:
        """Delete one of the account's profiles."""
        with _as_problems():
            await users.delete_profile(_account_id(identity), path.profile_id)
        return Response(status_code=_NO_CONTENT)

    return router
