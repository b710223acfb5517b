"""The registry's settings: lease policy, eviction cadence, snapshots and peers.

| ``MATINEE_REGISTRY_...`` | default | meaning |
|---|---|---|
| ``LEASE_DURATION`` | ``MATINEE_LEASE_DURATION`` (90) | silence before eviction (client default) |
| ``EVICTION_INTERVAL`` | 5 | seconds between eviction passes |
| ``SELF_PRESERVATION`` | true | hold expired leases when renewals collapse |
| ``RENEWAL_THRESHOLD`` | 0.85 | fraction of expected renewals below which it engages |
| ``MAX_LEASE_MULTIPLE`` | 3 | even then, evict after this many lease durations of silence |
| ``DELTA_RETENTION`` | 180 | seconds a change stays in ``/eureka/apps/delta`` |
| ``SNAPSHOT_INTERVAL`` | 10 | seconds between lease snapshots to disk |
| ``PEERS`` | empty | other registries' Eureka URLs, comma-separated: replicate to them |
| ``REPLICATION_TIMEOUT`` | 2 | seconds one replicated call may take |
| ``REPLICATION_RETRIES`` | 2 | retries of a failed replicated call before the peer counts as down |
| ``REPLICATION_QUEUE`` | 10000 | replicated calls waiting per peer; beyond, they are dropped |
| ``PEER_RETRY_INTERVAL`` | 2 | seconds between looks at a peer that is down |
| ``PEER_SYNC_TIMEOUT`` | 3 | seconds the start-up sync waits for one peer's registry |
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field

from matinee.platform.discovery import split_registry_urls
from matinee.platform.settings import ServiceSettings

__all__ = ["RegistrySettings"]

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


class RegistrySettings(ServiceSettings):
    """Settings of the registry process."""

    registry_lease_duration: float | None = Field(default=None, gt=0)
    registry_eviction_interval: float = Field(default=5.0, gt=0)
    registry_self_preservation: bool = True
    registry_renewal_threshold: float = Field(default=0.85, gt=0, le=1)
    registry_self_preservation_window: float = Field(default=60.0, gt=0)
    registry_max_lease_multiple: float = Field(default=3.0, ge=1)
    registry_delta_retention: float = Field(default=180.0, gt=0)
    registry_snapshot_interval: float = Field(default=10.0, gt=0)
    registry_max_body: int = Field(default=64 * 1024, ge=1024)
    registry_peers: str = ""
    registry_replication_timeout: float = Field(default=2.0, gt=0)
    registry_replication_retries: int = Field(default=2, ge=0, le=10)
    registry_replication_queue: int = Field(default=10_000, ge=1)
    registry_peer_retry_interval: float = Field(default=2.0, gt=0)
    registry_peer_sync_timeout: float = Field(default=3.0, gt=0)

    @property
    def effective_lease_duration(self) -> float:
        """Return the lease duration for clients that send none."""
        return self.registry_lease_duration or self.lease_duration

    @property
    def peer_urls(self) -> tuple[str, ...]:
        """Return the peers' URLs, without this registry's own (one list can serve all)."""
        urls = split_registry_urls(self.registry_peers)
        return tuple(url for url in urls if not self._is_me(url))

    def _is_me(self, url: str) -> bool:
        parts = urlsplit(url)
        if not self.port or parts.port != self.port:
            return False
        host = parts.hostname or ""
        return host == self.host or (host in _LOOPBACK and self.host in _LOOPBACK)
