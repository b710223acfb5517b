"""The registry's typed admin client: list the fleet, set or clear status overrides.

Used by the CLI outside a fleet too, so it takes the registry URL directly
rather than resolving the registry through discovery. Several comma-separated URLs
(registry peers) are tried in turn: an override set on one reaches the others by
replication.

| usage | returns |
|---|---|
| ``await RegistryClient(url).instances()`` | every registered ``Instance``, any status |
| ``await client.set_status("catalog", "catalog-1", Status.OUT_OF_SERVICE)`` | ``True`` if known |
| ``await client.clear_status("catalog", "catalog-1")`` | ``True`` if known |
| ``await client.status()`` | the registry's self-preservation and counts |
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from matinee.platform.discovery import (
    Failover,
    Instance,
    Status,
    parse_applications,
    split_registry_urls,
)
from matinee.platform.http import HttpPool

__all__ = ["RegistryClient", "RegistryUnavailable"]


_JSON = {"Accept": "application/json"}


class RegistryUnavailable(Exception):
    """The registry did not answer, or answered with an error."""


class RegistryClient:
    """Admin calls against a registry (``http://127.0.0.1:8761/eureka``, or several)."""

    def __init__(self, registry_url: str, *, time_limit: float = 3.0) -> None:
        urls = split_registry_urls(registry_url) or (registry_url.rstrip("/"),)
        self._failover = Failover(urls)
        self.time_limit = time_limit

    @property
    def registry_url(self) -> str:
        """Return the registry URL calls go to now."""
        return self._failover.current

    async def _request(self, method: str, path: str) -> tuple[int, bytes]:
        # One pool per call: the CLI makes a call or two, then its event loop ends.
        failures = []
        async with HttpPool() as pool:
            for index in self._failover.order():
                url = self._failover.urls[index]
                try:
                    reply = await pool.send(
                        method, url + path, headers=_JSON, body=None, timeout=self.time_limit
                    )
                except (OSError, TimeoutError) as exc:
                    failures.append(f"registry at {url}: {exc or type(exc).__name__}")
                    continue
                self._failover.answered(index)
                return reply.status, reply.body
        raise RegistryUnavailable("; ".join(failures))

    async def instances(self) -> list[Instance]:
        """Return every registered instance, whatever its status."""
        status, body = await self._request("GET", "/apps")
        if status != 200:
            raise RegistryUnavailable(f"registry answered {status}")
        pairs = parse_applications(orjson.loads(body))
        return sorted((i for _, i in pairs), key=lambda i: (i.service, i.instance_id))

    async def set_status(self, service: str, instance_id: str, status: Status) -> bool:
        """Override the status clients see; ``False`` if the instance is unknown."""
        path = f"/apps/{quote(service.upper())}/{quote(instance_id)}/status?value={status.value}"
        code, body = await self._request("PUT", path)
        return self._known(code, body)

    async def clear_status(self, service: str, instance_id: str) -> bool:
        """Remove a status override; ``False`` if the instance is unknown."""
        path = f"/apps/{quote(service.upper())}/{quote(instance_id)}/status"
        code, body = await self._request("DELETE", path)
        return self._known(code, body)

    async def status(self) -> dict[str, Any]:
        """Return the registry's counts and self-preservation state."""
        code, body = await self._request("GET", "/status")
        if code != 200:
            raise RegistryUnavailable(f"registry answered {code}")
        return dict(orjson.loads(body))

    @staticmethod
    def _known(code: int, body: bytes) -> bool:
        if code == 404:
            return False
        if code != 200:
            raise RegistryUnavailable(f"registry answered {code}: {body[:200]!r}")
        return True
