"""How to verify a users access token locally (the gateway does it on every request).

Access tokens are JWTs signed by users with Ed25519 (``alg: EdDSA``); users publishes
the public keys at ``GET /.well-known/jwks.json`` (``UsersClient.jwks()``). The rules
a verifier must apply, all enforced by :class:`AccessTokenVerifier`:

1. Read the header unverified only to find ``kid``; an unknown kid is rejected
   (:class:`UnknownSigningKey`: refetch the JWKS, at most every few seconds, then retry once).
2. The algorithm comes from the JWK (``alg``, or ``EdDSA`` for ``OKP``/``Ed25519``), never
   from the token: ``none``, ``HS*`` or any other algorithm than the key's is rejected.
3. Check the signature, then ``iss == "matinee"``, ``aud == "matinee"``, ``exp`` (30 s
   of leeway for clock skew) and that ``sub``, ``iat``, ``exp`` are present.
4. Cache a verified token until its ``exp`` at most, not longer.

| usage | gives |
|---|---|
| ``v = AccessTokenVerifier(await users.jwks())`` | a verifier for the current key set |
| ``v.verify(token)`` | :class:`AccessClaims`, or :class:`TokenRejected` |
| ``v.update(jwks)`` | the new key set after a rotation (kid miss) |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

__all__ = [
    "ALLOWED_ALGORITHMS",
    "AUDIENCE",
    "ISSUER",
    "AccessClaims",
    "AccessTokenVerifier",
    "TokenRejected",
    "UnknownSigningKey",
]

ISSUER = "matinee"
AUDIENCE = "matinee"
# Asymmetric algorithms only: a public key can never be turned into an HMAC secret.
ALLOWED_ALGORITHMS = frozenset({"EdDSA", "ES256"})
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]


class TokenRejected(Exception):
    """The token is not a valid access token (forged, expired, wrong audience, ...)."""


class UnknownSigningKey(TokenRejected):
    """The token names a key the verifier does not have: refresh the JWKS and retry once."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"unknown signing key {kid!r}")
        self.kid = kid


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says about its bearer."""

    account_id: str
    plan: str
    roles: tuple[str, ...]
    issued_at: int
    expires_at: int
    token_id: str


@dataclass(frozen=True, slots=True)
class _Key:
    key: Any
    algorithm: str


def _parse_jwks(jwks: Mapping[str, Any]) -> dict[str, _Key]:
    keys: dict[str, _Key] = {}
    for entry in jwks.get("keys", ()):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            parsed = jwt.PyJWK(dict(entry))
        except (jwt.PyJWKError, jwt.InvalidKeyError, KeyError, ValueError, TypeError):
            continue  # an unusable or unsupported key is skipped, never trusted
        if parsed.algorithm_name not in ALLOWED_ALGORITHMS:
            continue
        keys[entry["kid"]] = _Key(parsed.key, parsed.algorithm_name)
    return keys


class AccessTokenVerifier:
    """Verify access tokens against a JWKS, with the rules in the module docstring."""

    def __init__(
        self,
        jwks: Mapping[str, Any],
        *,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        leeway: float = 30.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._keys = _parse_jwks(jwks)

    def update(self, jwks: Mapping[str, Any]) -> None:
        """Replace the key set (after fetching the JWKS again)."""
        self._keys = _parse_jwks(jwks)

    @property
    def kids(self) -> frozenset[str]:
        """Return the ids of the keys this verifier trusts."""
        return frozenset(self._keys)

    def verify(self, token: str) -> AccessClaims:
        """Return the claims of a valid token; raise TokenRejected (or UnknownSigningKey)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("malformed token") from None
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenRejected("token has no kid")
        key = self._keys.get(kid)
        if key is None:
            raise UnknownSigningKey(kid)
        if header.get("alg") != key.algorithm:
            raise TokenRejected(f"algorithm {header.get('alg')!r} is not the key's")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("token expired") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"invalid token: {exc}") from None
        roles = claims.get("roles", [])
        if not isinstance(claims["sub"], str) or not isinstance(roles, list):
            raise TokenRejected("malformed claims")
        return AccessClaims(
            account_id=claims["sub"],
            plan=str(claims.get("plan", "")),
            roles=tuple(str(r) for r in roles),
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            token_id=str(claims.get("jti", "")),
        )
