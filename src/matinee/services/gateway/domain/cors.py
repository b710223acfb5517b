"""Which browser origins may call the API (CORS), decided once per origin.

Origins are exact (``https://app.example.com``) or with any port
(``http://localhost:*``). Decisions are cached, so an allowed origin costs a
dict lookup per request.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["CorsPolicy"]


class CorsPolicy:
    """An allowlist of origins."""

    def __init__(self, origins: Iterable[str]) -> None:
        self._exact: set[str] = set()
        self._any_port: list[str] = []
        for origin in origins:
            origin = origin.strip().rstrip("/")
            if not origin:
                continue
            if origin.endswith(":*"):
                self._any_port.append(origin[:-1])  # keep the colon: "http://localhost:"
            else:
                self._exact.add(origin)
        self._cache: dict[bytes, bool] = {}

    def allows(self, origin: bytes) -> bool:
        """Tell whether ``origin`` (the header's bytes) may call the API."""
        known = self._cache.get(origin)
        if known is not None:
            return known
        text = origin.decode("latin-1")
        allowed = text in self._exact or any(
            text.startswith(prefix) and text[len(prefix) :].isdigit() for prefix in self._any_port
        )
        if len(self._cache) > 10_000:
            self._cache.clear()  # origins are few; a flood of made-up ones must not grow memory
        self._cache[origin] = allowed
        return allowed
