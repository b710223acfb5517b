"""Fixtures shared by every test layer."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import pytest


def free_port() -> int:
    """Return a TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unused_port() -> int:
    return free_port()


def signed_headers(identity=None, *, secret: str = "dev-internal-secret") -> dict[str, str]:
    """Return headers that pass a service's identity gate (the fleet's dev secret)."""
    from matinee.platform.identity import IDENTITY_HEADER, Identity, IdentitySigner

    # Valid for an hour: some modules sign their headers once, at import.
    signer = IdentitySigner(secret, service="tests", ttl=3600)
    return {IDENTITY_HEADER: signer.sign(identity or Identity.of_service("tests"))}


@contextlib.contextmanager
def acting_as(identity: Any) -> Iterator[None]:
    """Make outgoing calls carry ``identity``, as they would while serving its request."""
    from matinee.platform.identity import IDENTITY_HEADER, reset_forwarded, set_forwarded

    token = set_forwarded(signed_headers(identity)[IDENTITY_HEADER])
    try:
        yield
    finally:
        reset_forwarded(token)
