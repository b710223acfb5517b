"""The registry's settings: lease policy, eviction cadence and snapshots.

| ``MATINEE_REGISTRY_...`` | default | meaning |
|---|---|---|
| ``LEASE_DURATION`` | ``MATINEE_LEASE_DURATION`` (90) | silence before eviction (client default) |
| ``EVICTION_INTERVAL`` | 5 | seconds between eviction passes |
| ``SELF_PRESERVATION`` | true | hold expired leases when renewals collapse |
| ``RENEWAL_THRESHOLD`` | 0.85 | fraction of expected renewals below which it engages |
| ``MAX_LEASE_MULTIPLE`` | 3 | even then, evict after this many lease durations of silence |
| ``DELTA_RETENTION`` | 180 | seconds a change stays in ``/eureka/apps/delta`` |
| ``SNAPSHOT_INTERVAL`` | 10 | seconds between lease snapshots to disk |
"""

from __future__ import annotations

from pydantic import Field

from matinee.platform.settings import ServiceSettings

__all__ = ["RegistrySettings"]


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

    @property
    def effective_lease_duration(self) -> float:
        """Return the lease duration for clients that send none."""
        return self.registry_lease_duration or self.lease_duration
