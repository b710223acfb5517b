"""Who is calling: the identity the edge vouches for, signed so nobody can skip the edge.

The gateway verifies a device's token once, then states the caller's identity in an
internal header signed with the fleet's shared secret (HMAC-SHA256, short expiry).
Every service refuses a request whose header is missing, forged or expired (the
chassis does it), and forwards the header on its own calls, so a call chain carries
the original caller. Work a service does on its own (consumers, timers) goes out
under the service's identity.

| usage | effect |
|---|---|
| ``signer = IdentitySigner(secret, service="gateway")`` | one per process |
| ``signer.sign(Identity.account("42", plan="premium"))`` | the header value (cached) |
| ``signer.verify(header_value)`` | the :class:`Identity`, or :class:`Unauthorized` |
| ``identity_headers()`` | the header for an outgoing call (the resilient client adds it) |
| handler parameter ``identity: Identity`` | the verified caller, from the chassis |
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import orjson

from matinee.platform.errors import Forbidden, Unauthorized

__all__ = [
    "IDENTITY_HEADER",
    "IDENTITY_HEADER_BYTES",
    "IDENTITY_SCOPE_KEY",
    "Identity",
    "IdentitySigner",
    "identity_headers",
    "require_admin",
    "reset_forwarded",
    "set_fallback_identity",
    "set_forwarded",
]

IDENTITY_HEADER = "x-matinee-identity"
IDENTITY_HEADER_BYTES = IDENTITY_HEADER.encode()
# Where the chassis leaves the verified caller in the ASGI scope.
IDENTITY_SCOPE_KEY = "matinee.identity"

Kind = Literal["account", "service", "anonymous"]

# The header of the request being served, forwarded unchanged on outgoing calls.
_forwarded: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "matinee_identity", default=None
)
# Signs the service's own identity for calls made outside any request.
_fallback: Callable[[], str] | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified caller: an account (through the edge), a service, or nobody yet."""

    kind: Kind
    account_id: str = ""
    plan: str = ""
    roles: tuple[str, ...] = field(default_factory=tuple)
    service: str = ""

    @classmethod
    def account(cls, account_id: str, *, plan: str = "", roles: tuple[str, ...] = ()) -> Identity:
        """Return the identity of a signed-in account."""
        return cls("account", account_id=account_id, plan=plan, roles=roles)

    @classmethod
    def of_service(cls, name: str) -> Identity:
        """Return the identity of a service acting on its own behalf."""
        return cls("service", service=name, roles=("service",))

    @classmethod
    def anonymous(cls) -> Identity:
        """Return the identity of a caller who has not signed in (sign-up, login)."""
        return cls("anonymous")

    @property
    def is_admin(self) -> bool:
        """Tell whether the caller may use admin APIs (admins and services may)."""
        return "admin" in self.roles or self.kind == "service"


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def _unb64(text: bytes) -> bytes:
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


class IdentitySigner:
    """Sign and verify identity headers with the fleet's shared secret."""

    def __init__(
        self,
        secret: str,
        *,
        service: str,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("an identity signer needs a non-empty secret")
        self._key = secret.encode()
        self.service = service
        self.ttl = ttl
        self._clock = clock
        # identity -> (header, re-sign after): the edge signs the same few identities
        # over and over, so each is signed once per half-ttl, not once per request.
        self._signed: dict[Identity, tuple[str, float]] = {}
        # header -> (identity, expires): the same few headers arrive again and again,
        # so each is checked (HMAC, base64, JSON) once; its expiry is checked every time.
        self._verified: dict[bytes, tuple[Identity, float]] = {}

    def sign(self, identity: Identity) -> str:
        """Return a header value vouching for ``identity`` for ``ttl`` seconds."""
        now = self._clock()
        cached = self._signed.get(identity)
        if cached is not None and now < cached[1]:
            return cached[0]
        claims = {
            "k": identity.kind,
            "a": identity.account_id,
            "p": identity.plan,
            "r": list(identity.roles),
            "s": identity.service or self.service,
            "exp": int(now + self.ttl),
        }
        payload = _b64(orjson.dumps(claims))
        mac = _b64(hmac.new(self._key, payload, hashlib.sha256).digest())
        header = (payload + b"." + mac).decode()
        if len(self._signed) > 10_000:  # bounded: identities of accounts come and go
            self._signed.clear()
        self._signed[identity] = (header, now + self.ttl / 2)
        return header

    def verify(self, header: str | bytes | None) -> Identity:
        """Return the identity a header vouches for; raise Unauthorized if it does not."""
        if not header:
            raise Unauthorized("this service is reached through the gateway only")
        raw = header.encode("latin-1") if isinstance(header, str) else header
        known = self._verified.get(raw)
        if known is not None:
            if known[1] < self._clock():
                raise Unauthorized("internal identity expired")
            return known[0]
        payload, _, mac = raw.partition(b".")
        expected = _b64(hmac.new(self._key, payload, hashlib.sha256).digest())
        if not mac or not hmac.compare_digest(mac, expected):
            raise Unauthorized("invalid internal identity signature")
        try:
            claims = orjson.loads(_unb64(payload))
            kind = claims["k"]
            expires = float(claims["exp"])
            identity = Identity(
                kind=kind,
                account_id=str(claims.get("a", "")),
                plan=str(claims.get("p", "")),
                roles=tuple(str(r) for r in claims.get("r", ())),
                service=str(claims.get("s", "")),
            )
        except (ValueError, KeyError, TypeError):
            raise Unauthorized("malformed internal identity") from None
        if kind not in ("account", "service", "anonymous"):
            raise Unauthorized("malformed internal identity")
        if expires < self._clock():
            raise Unauthorized("internal identity expired")
        if len(self._verified) > 10_000:  # bounded: expired headers are never asked again
            self._verified.clear()
        self._verified[raw] = (identity, expires)
        return identity


def set_forwarded(header: str | None) -> contextvars.Token[str | None]:
    """Make ``header`` the identity forwarded by calls made while serving this request."""
    return _forwarded.set(header)


def reset_forwarded(token: contextvars.Token[str | None]) -> None:
    """Restore the forwarded identity that was current before :func:`set_forwarded`."""
    _forwarded.reset(token)


def set_fallback_identity(provider: Callable[[], str] | None) -> None:
    """Install how to sign this process's own identity for calls outside a request."""
    global _fallback
    _fallback = provider


def identity_headers() -> dict[str, str]:
    """Return the identity header for an outgoing call, or ``{}`` when there is none."""
    header = _forwarded.get()
    if header is None and _fallback is not None:
        header = _fallback()
    return {IDENTITY_HEADER: header} if header else {}


def require_admin(identity: Identity) -> None:
    """Raise Forbidden unless the caller may use admin APIs."""
    if not identity.is_admin:
        raise Forbidden("this operation needs the admin role")
