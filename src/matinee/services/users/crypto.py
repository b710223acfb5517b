"""Crypto adapters of users: argon2id password hashing, Ed25519 keys sealed at rest, JWTs.

| usage | effect |
|---|---|
| ``Argon2Hasher(time_cost=2, memory_kib=24576)`` | hashes off the event loop, bounded |
| ``KeySealer(secret)`` | AES-256-GCM (key from HKDF of the secret) for private keys at rest |
| ``JwtSigner(KeySealer(secret))`` | new Ed25519 keys (kid = RFC 7638 thumbprint), EdDSA JWTs |

Private signing keys never leave users in clear: the database holds them sealed with
``MATINEE_USERS_KEY_SECRET`` (bound to their kid as associated data, so a sealed key
cannot be swapped onto another row), and no API returns them; the JWKS shows only
public halves. Whoever has both the database and the secret can mint tokens; keep
the secret out of the database's backups.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from typing import Any

import argon2
import jwt
import orjson
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from matinee.platform.errors import ServiceUnavailable
from matinee.services.users.domain.model import SigningKey

__all__ = [
    "ALGORITHM",
    "Argon2Hasher",
    "JwtSigner",
    "KeySealer",
    "SigningKeyUnusable",
    "jwk_thumbprint",
]

ALGORITHM = "EdDSA"
_SEAL_VERSION = b"\x01"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Argon2Hasher:
    """argon2id through argon2-cffi, run in worker threads so the event loop keeps serving.

    argon2-cffi releases the GIL while hashing, so ``max_concurrency`` hashes run in
    parallel; further logins queue for a slot instead of piling memory-hard work up.
    """

    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_kib: int = 24576,
        parallelism: int = 1,
        max_concurrency: int | None = None,
    ) -> None:
        self._ph = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._max_concurrency = max_concurrency or max(2, os.cpu_count() or 1)
        self._slots: asyncio.Semaphore | None = None
        self._decoy: str | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_concurrency)
        return self._slots

    async def hash(self, password: str) -> str:
        """Return the encoded argon2id hash of ``password``."""
        async with self._semaphore():
            return await asyncio.to_thread(self._ph.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        """Return whether ``password`` matches; a malformed hash is a mismatch."""
        async with self._semaphore():
            return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._ph.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def warm(self) -> None:
        """Prepare the decoy hash that unknown emails are checked against."""
        if self._decoy is None:
            self._decoy = await self.hash(_b64(os.urandom(24)))

    async def burn(self, password: str) -> None:
        """Verify against a decoy hash: the same cost as a real check, never a match."""
        await self.warm()
        assert self._decoy is not None
        await self.verify(self._decoy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """Return whether the hash used other parameters than the current ones."""
        try:
            return self._ph.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True


class SigningKeyUnusable(ServiceUnavailable):
    """A stored private key cannot be unsealed (wrong secret, damaged row): 503, not 500."""


class KeySealer:
    """Encrypt private keys for storage with AES-256-GCM under a key derived from a secret."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a key sealer needs a non-empty secret")
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"matinee users signing keys v1"
        ).derive(secret.encode())
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, *, kid: str) -> bytes:
        """Return the sealed form of ``plaintext``, bound to ``kid``."""
        nonce = os.urandom(12)
        return _SEAL_VERSION + nonce + self._aead.encrypt(nonce, plaintext, kid.encode())

    def unseal(self, sealed: bytes, *, kid: str) -> bytes:
        """Return the plaintext; raise SigningKeyUnusable for a wrong secret, kid or damage."""
        if sealed[:1] != _SEAL_VERSION or len(sealed) < 1 + 12 + 16:
            raise SigningKeyUnusable(f"signing key {kid} is not in a known sealed format")
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], kid.encode())
        except Exception:
            raise SigningKeyUnusable(
                f"signing key {kid} cannot be unsealed: is MATINEE_USERS_KEY_SECRET the one "
                "that sealed it?"
            ) from None


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """Return the RFC 7638 thumbprint of an OKP public JWK (base64url SHA-256)."""
    canonical = {name: jwk[name] for name in ("crv", "kty", "x")}
    return _b64(hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).digest())


class JwtSigner:
    """Generate Ed25519 signing keys and sign access tokens with them (EdDSA)."""

    def __init__(self, sealer: KeySealer) -> None:
        self._sealer = sealer
        self._private: dict[str, Ed25519PrivateKey] = {}

    def new_key(self, now: float) -> SigningKey:
        """Return a fresh key pair, its private half sealed, its public half as a JWK."""
        private = Ed25519PrivateKey.generate()
        public_raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(public_raw)}
        kid = jwk_thumbprint(jwk)
        jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
        private_raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        self._private[kid] = private
        return SigningKey(
            kid=kid,
            algorithm=ALGORITHM,
            created_at=now,
            public_jwk=jwk,
            sealed_private_key=self._sealer.seal(private_raw, kid=kid),
        )

    def sign(self, key: SigningKey, claims: dict[str, Any]) -> str:
        """Return the compact JWT of ``claims`` signed with ``key``, its kid in the header."""
        private = self._private.get(key.kid)
        if private is None:
            raw = self._sealer.unseal(key.sealed_private_key, kid=key.kid)
            private = self._private[key.kid] = Ed25519PrivateKey.from_private_bytes(raw)
        return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": key.kid})
