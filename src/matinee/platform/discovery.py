"""Service discovery: register this instance, heartbeat, and resolve others from a cache.

OWNED BY THE REGISTRY/DISCOVERY WORK: the types and the ``Discovery`` protocol below are
the contract the chassis (service.py) and the resilient client (http/) rely on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

__all__ = ["Discovery", "Instance", "Resolver", "Status"]


class Status(StrEnum):
    """Eureka's instance statuses."""

    UP = "UP"
    DOWN = "DOWN"
    STARTING = "STARTING"
    OUT_OF_SERVICE = "OUT_OF_SERVICE"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class Instance:
    """One running instance of a service, as the registry knows it."""

    service: str
    instance_id: str
    host: str
    port: int
    status: Status = Status.UP
    version: str = ""
    region: str = ""
    zone: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Base URL of the instance, without a trailing slash."""
        return f"http://{self.host}:{self.port}"


class Resolver(Protocol):
    """What a caller needs: the UP instances of a service, from a local cache."""

    def instances(self, service: str) -> Sequence[Instance]:
        """Return the UP instances of ``service`` (never blocks, never raises)."""
        ...


class Discovery(Resolver, Protocol):
    """Registration of this instance plus resolution of others."""

    async def start(self, own: Instance | None) -> None:
        """Register ``own`` (if given), start heartbeats and cache refreshes."""
        ...

    async def stop(self) -> None:
        """Cancel the registration and stop background tasks."""
        ...
