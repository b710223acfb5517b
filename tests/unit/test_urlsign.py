"""Signed CDN URLs: bound to asset, session and expiry; tampering is refused."""

from __future__ import annotations

import pytest

from matinee.platform.urlsign import UrlRejected, UrlSigner

SIGNER = UrlSigner("cdn-secret")


def test_a_token_grants_its_session_its_asset_until_it_expires():
    token = SIGNER.token("a1b2c3", "sess-1", 1000)
    assert SIGNER.verify(token, "a1b2c3", now=999) == "sess-1"
    with pytest.raises(UrlRejected, match="expired"):
        SIGNER.verify(token, "a1b2c3", now=1001)


def test_another_asset_another_secret_or_an_edited_token_is_refused():
    token = SIGNER.token("a1b2c3", "sess-1", 1000)
    with pytest.raises(UrlRejected):
        SIGNER.verify(token, "ffffff", now=0)
    with pytest.raises(UrlRejected):
        UrlSigner("other-secret").verify(token, "a1b2c3", now=0)
    exp, session, mac = token.split(".")
    for forged in (f"{int(exp, 16) + 999:x}.{session}.{mac}", f"{exp}.sess-2.{mac}", "x.y", ""):
        with pytest.raises(UrlRejected):
            SIGNER.verify(forged, "a1b2c3", now=0)


def test_signed_paths_keep_relative_playlist_urls_working():
    path = SIGNER.path("a1b2c3", "sess-1", 1000, "master.m3u8")
    assert path.startswith("/s/") and path.endswith("/a1b2c3/master.m3u8")
    with pytest.raises(ValueError):
        SIGNER.token("../etc", "sess-1", 1000)
