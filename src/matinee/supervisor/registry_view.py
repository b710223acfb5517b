"""Read what the registry knows: Eureka's ``GET /apps`` JSON, flattened.

| usage | gives |
|---|---|
| ``fetch_registered("http://127.0.0.1:8761/eureka")`` | ``[Registered(...)]``; OSError if down |
| ``fetch_registered("http://a/eureka,http://b/eureka")`` | from the first registry that answers |
| ``fetch_registered(urls, failover=f)`` | ``f`` (a ``Failover``) remembers which one answered |
| ``parse_apps(doc)`` | the same from an already-decoded document |
| ``is_healthy("http://127.0.0.1:8761")`` | whether ``/healthz`` answers 200 |
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from matinee.platform.discovery import Failover, instance_documents, split_registry_urls

__all__ = ["Registered", "fetch_registered", "is_healthy", "parse_apps", "registry_base_url"]


@dataclass(frozen=True, slots=True)
class Registered:
    """One instance as the registry lists it."""

    service: str
    instance_id: str
    status: str
    url: str
    port: int | None
    version: str
    zone: str
    # Milliseconds since the epoch; 0 when the registry does not say.
    registered_at_ms: int
    # The registering process (Matinee instances put it in their metadata).
    pid: int | None = None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(raw: Any) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _port(raw: Any) -> int | None:
    if isinstance(raw, dict):
        raw = raw.get("$")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _instance(app_name: str, raw: Mapping[str, Any]) -> Registered:
    port = _port(raw.get("port"))
    host = raw.get("ipAddr") or raw.get("hostName") or "127.0.0.1"
    url = str(raw.get("homePageUrl") or (f"http://{host}:{port}" if port else "")).rstrip("/")
    metadata = _dict(raw.get("metadata"))
    data_center = raw.get("dataCenterInfo")
    zone = str(metadata.get("zone", ""))
    if not zone and isinstance(data_center, dict):
        zone = str(_dict(data_center.get("metadata")).get("availability-zone", ""))
    lease = _dict(raw.get("leaseInfo"))
    try:
        registered = int(lease.get("registrationTimestamp") or 0)
    except (TypeError, ValueError):
        registered = 0
    service = str(raw.get("app") or app_name).lower()
    return Registered(
        service=service,
        instance_id=str(raw.get("instanceId") or f"{host}:{service}:{port}"),
        status=str(raw.get("status") or "UNKNOWN").upper(),
        url=url,
        port=port,
        version=str(metadata.get("version", "")),
        zone=zone,
        registered_at_ms=registered,
        pid=_int(metadata.get("pid")),
    )


def parse_apps(doc: Any) -> list[Registered]:
    """Flatten Eureka's ``{"applications": {"application": [...]}}`` into instances."""
    # Discovery's walk raises on a malformed document (a client then keeps its copy);
    # a view just shows nothing.
    if not isinstance(doc, Mapping) or not isinstance(doc.get("applications"), Mapping):
        return []
    return [_instance(name, raw) for name, raw in instance_documents(doc)]


def registry_base_url(registry_url: str) -> str:
    """Return the registry's root URL from its Eureka URL (``.../eureka`` stripped)."""
    url = registry_url.rstrip("/")
    return url[: -len("/eureka")] if url.endswith("/eureka") else url


# Local calls only: ignore any http_proxy in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch_registered(
    registry_url: str, timeout: float = 2.0, *, failover: Failover | None = None
) -> list[Registered]:
    """Return every instance the registry lists; raise OSError when none can be asked.

    ``registry_url`` may name several registries, comma-separated (peers holding the
    same leases): they are tried in turn, in ``failover``'s order when one is given.
    """
    urls = split_registry_urls(registry_url)
    if not urls:
        raise OSError("no registry URL to ask")
    rotation = failover if failover is not None else Failover(urls)
    failure: OSError | None = None
    for index in rotation.order():
        try:
            found = _fetch_one(rotation.urls[index], timeout)
        except OSError as exc:
            failure = exc
            continue
        rotation.answered(index)
        return found
    assert failure is not None
    raise failure


def _fetch_one(registry_url: str, timeout: float) -> list[Registered]:
    request = urllib.request.Request(
        registry_url.rstrip("/") + "/apps", headers={"Accept": "application/json"}
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read()
    except http.client.HTTPException as exc:  # a broken answer: as good as none
        raise OSError(f"registry at {registry_url}: {exc!r}") from exc
    try:
        return parse_apps(json.loads(body))
    except ValueError as exc:
        raise OSError(f"registry answered something that is not JSON: {exc}") from exc


def is_healthy(base_url: str, timeout: float = 1.0) -> bool:
    """Return whether ``base_url/healthz`` answers 200."""
    try:
        with _OPENER.open(base_url.rstrip("/") + "/healthz", timeout=timeout) as resp:
            return int(resp.status) == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False
