"""A stand-in for users' signing keys: a JWKS and access tokens the gateway must accept."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm


class SigningKeys:
    """Ed25519 keys with kids; ``jwks()`` publishes them, ``token()`` signs access tokens."""

    def __init__(self) -> None:
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self.current = self.rotate()

    def rotate(self) -> str:
        """Add a new key and make it the one that signs; return its kid."""
        kid = f"k{len(self.keys) + 1}"
        self.keys[kid] = Ed25519PrivateKey.generate()
        self.current = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        """Return the public JWKS (what users serves at /.well-known/jwks.json)."""
        keys = []
        for kid, private in self.keys.items():
            jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
            jwk.update(kid=kid, alg="EdDSA", use="sig")
            keys.append(jwk)
        return {"keys": keys}

    def token(
        self,
        sub: str = "42",
        *,
        plan: str = "premium",
        roles: tuple[str, ...] = (),
        ttl: float = 900,
        kid: str | None = None,
        **overrides: Any,
    ) -> str:
        """Return an access token as users would sign it (claims overridable)."""
        now = int(time.time())
        claims = {
            "iss": "matinee",
            "aud": "matinee",
            "sub": sub,
            "plan": plan,
            "roles": list(roles),
            "iat": now,
            "exp": int(now + ttl),
            "jti": f"j{now}",
        }
        claims.update(overrides)
        kid = kid or self.current
        return jwt.encode(claims, self.keys[kid], algorithm="EdDSA", headers={"kid": kid})


def b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def alg_none_token(sub: str = "42", kid: str = "k1") -> str:
    """Return an unsigned token (``alg: none``) with otherwise valid claims."""
    now = int(time.time())
    header = b64({"alg": "none", "typ": "JWT", "kid": kid})
    body = b64({"iss": "matinee", "aud": "matinee", "sub": sub, "iat": now, "exp": now + 900})
    return f"{header}.{body}."
