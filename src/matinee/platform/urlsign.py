"""Signed CDN URLs: playback hands out, CDN nodes verify, nobody else can mint them.

The token sits in the path, not the query: ``/s/<token>/<asset_id>/master.m3u8``.
Players resolve the relative URLs inside playlists (``720p/seg_1.m4s``) against
that path, so every segment request carries the token without rewriting playlists.
A token is bound to one asset, one playback session and an expiry, and signed with
HMAC-SHA256 under the fleet's URL secret.

| usage | effect |
|---|---|
| ``signer = UrlSigner(secret)`` | one per process |
| ``signer.token(asset_id, session_id, expires_at)`` | the path token |
| ``signer.path(asset_id, session_id, exp, "master.m3u8")`` | ``/s/<token>/<asset>/master.m3u8`` |
| ``signer.verify(token, asset_id, now)`` | the session id, or :class:`UrlRejected` |
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["SIGNED_PREFIX", "UrlRejected", "UrlSigner"]

SIGNED_PREFIX = "/s/"
_SESSION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ASSET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class UrlRejected(ValueError):
    """The URL's token is malformed, forged, for another asset, or expired."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class UrlSigner:
    """Mint and check path tokens with one shared secret."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a URL signer needs a non-empty secret")
        self._key = secret.encode()

    def _mac(self, asset_id: str, session_id: str, expires_at: int) -> str:
        message = f"{asset_id}|{session_id}|{expires_at}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest()[:18])

    def token(self, asset_id: str, session_id: str, expires_at: float) -> str:
        """Return the token granting ``session_id`` the asset until ``expires_at`` (epoch s)."""
        if not _ASSET.match(asset_id) or not _SESSION.match(session_id):
            raise ValueError("asset and session ids must be URL-safe and at most 64 chars")
        exp = int(expires_at)
        return f"{exp:x}.{session_id}.{self._mac(asset_id, session_id, exp)}"

    def path(self, asset_id: str, session_id: str, expires_at: float, name: str) -> str:
        """Return the signed path of one object of the asset."""
        token = self.token(asset_id, session_id, expires_at)
        return f"{SIGNED_PREFIX}{token}/{asset_id}/{name.lstrip('/')}"

    def verify(self, token: str, asset_id: str, now: float) -> str:
        """Return the session a token was minted for; raise UrlRejected otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            raise UrlRejected("malformed URL token")
        exp_hex, session_id, mac = parts
        try:
            expires_at = int(exp_hex, 16)
        except ValueError:
            raise UrlRejected("malformed URL token") from None
        if not _SESSION.match(session_id) or not _ASSET.match(asset_id):
            raise UrlRejected("malformed URL token")
        if not hmac.compare_digest(mac, self._mac(asset_id, session_id, expires_at)):
            raise UrlRejected("URL signature does not match")
        if expires_at < now:
            raise UrlRejected("URL expired")
        return session_id
