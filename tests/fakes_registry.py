"""A transport for ``RegistryDiscovery`` tests: records calls, fails while the registry is down.

Subclasses say how the registry answers (``answer``); the failure is what ``HttpPool``
raises, so discovery sees exactly what it would see in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matinee.platform.http import Response, TransportError


class RegistryTransport:
    """A ``matinee.platform.http.Transport``; set ``down`` to make the registry unreachable."""

    def __init__(self) -> None:
        self.down = False
        # What a call raises while down: a refused connection, or ``TimeoutError()``.
        self.failure: Exception = TransportError("connection refused")
        self.calls: list[tuple[str, str]] = []

    async def send(self, method: str, url: str, **kw: Any) -> Response:
        """Record the call, then fail (while down) or answer."""
        self.calls.append((method, url))
        if self.down:
            raise self.failure
        return await self.answer(method, url, kw["headers"], kw["body"])

    async def answer(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Response:
        """Return the registry's answer to one call."""
        raise NotImplementedError
