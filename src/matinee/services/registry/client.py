"""The registry's typed admin client: list the fleet, set or clear status overrides.

Used by the CLI outside a fleet too, so it takes the registry URL directly
rather than resolving the registry through discovery.

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

from matinee.platform.discovery import Instance, Status, parse_applications
from matinee.platform.http import HttpPool

__all__ = ["RegistryClient", "RegistryUnavailable"]


_JSON = {"Accept": "application/json"}


class RegistryUnavailable(Exception):
    """The registry did not answer, or answered with an error."""


class RegistryClient:
    """Admin calls against one registry (``http://127.0.0.1:8761/eureka``)."""

    def __init__(self, registry_url: str, *, time_limit: float = 3.0) -> None:
        self.registry_url = registry_url.rstrip("/")
        self.time_limit = time_limit

    async def _request(self, method: str, path: str) -> tuple[int, bytes]:
        # One pool per call: the CLI makes a call or two, then its event loop ends.
        try:
            async with HttpPool() as pool:
                reply = await pool.send(
                    method,
                    self.registry_url + path,
                    headers=_JSON,
                    body=None,
                    timeout=self.time_limit,
                )
        except (OSError, TimeoutError) as exc:
            raise RegistryUnavailable(f"registry at {self.registry_url}: {exc}") from exc
        return reply.status, reply.body

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
