"""What a running instance is: the plain types discovery and the HTTP client share.

They live apart from ``discovery`` so that discovery can talk HTTP through
``matinee.platform.http`` while the client resolves through discovery's types,
without either module importing the other. Import them from ``discovery`` as usual.

| usage | meaning |
|---|---|
| ``Instance("catalog", "catalog-1", "127.0.0.1", 4101)`` | one instance; ``.url`` is its base URL |
| ``Status.UP`` | Eureka's statuses; only UP instances are resolved |
| ``resolver.instances("catalog")`` | the ``Resolver`` port: UP instances from a local cache |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

__all__ = ["Instance", "Resolver", "Status"]


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
