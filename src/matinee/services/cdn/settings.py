"""Settings of a CDN node.

| variable | meaning (default) |
|---|---|
| ``MATINEE_CDN_REGIONS`` | regions of nodes 1, 2, ... by instance number (``eu-west,us-east``) |
| ``MATINEE_CDN_ISPS`` | ISPs of nodes 1, 2, ... (``isp-a,isp-b``) |
| ``MATINEE_CDN_CAPACITY_BYTES`` | cache capacity on disk (2 GiB) |
| ``MATINEE_CDN_CACHE_DIR`` | the cache (``<data>/services/cdn/<instance_id>/cache``) |
| ``MATINEE_CDN_MEMORY_BYTES`` | small objects also held in memory, in all (64 MiB) |
| ``MATINEE_CDN_FILL_TIMEOUT`` | seconds a fill may take from the origin (10) |
| ``MATINEE_CDN_PREFILL_WINDOW_S`` / ``_PREFILL_RATE_MBPS`` | prefill defaults (600 s, 200) |

``MATINEE_REGION``, when set, wins over the regions list (a real deployment knows
where it runs); the list gives a laptop fleet nodes in different places.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from matinee.platform.settings import ServiceSettings

__all__ = ["CdnSettings"]

_NUMBER = re.compile(r"(\d+)$")


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"MATINEE_CDN_{name.upper()}")


class CdnSettings(ServiceSettings):
    """CDN node settings; every field also reads ``MATINEE_CDN_<FIELD>``."""

    model_config = SettingsConfigDict(populate_by_name=True)

    regions: str = Field(default="eu-west,us-east", validation_alias=_env("regions"))
    isps: str = Field(default="isp-a,isp-b", validation_alias=_env("isps"))
    capacity_bytes: int = Field(default=2 << 30, gt=0, validation_alias=_env("capacity_bytes"))
    cache_dir: Path | None = Field(default=None, validation_alias=_env("cache_dir"))
    memory_bytes: int = Field(default=64 << 20, ge=0, validation_alias=_env("memory_bytes"))
    small_object_bytes: int = Field(
        default=64 << 10, ge=0, le=16 << 20, validation_alias=_env("small_object_bytes")
    )
    fill_timeout: float = Field(default=10.0, gt=0, validation_alias=_env("fill_timeout"))
    # Seconds a client may stall a response (no byte taken) before it is cut off.
    stall_timeout: float = Field(default=30.0, gt=0, validation_alias=_env("stall_timeout"))
    idle_timeout: float = Field(default=30.0, gt=0, validation_alias=_env("idle_timeout"))
    prefill_window_s: float = Field(default=600.0, gt=0, validation_alias=_env("prefill_window_s"))
    prefill_rate_mbps: float = Field(
        default=200.0, gt=0, validation_alias=_env("prefill_rate_mbps")
    )

    def node_number(self) -> int:
        """Return this node's number from its instance id ("cdn-2" -> 2; 1 if none)."""
        match = _NUMBER.search(self.instance_id)
        return max(1, int(match.group(1))) if match else 1

    def placement(self) -> tuple[str, str]:
        """Return this node's (region, isp): MATINEE_REGION if set, else by node number."""
        index = self.node_number() - 1
        regions = [r.strip() for r in self.regions.split(",") if r.strip()] or [self.region]
        isps = [i.strip() for i in self.isps.split(",") if i.strip()] or ["isp-a"]
        region = self.region if "region" in self.model_fields_set else regions[index % len(regions)]
        return region, isps[index % len(isps)]

    def cache_path(self, instance_id: str) -> Path:
        """Return the cache directory of the instance ``instance_id``."""
        if self.cache_dir is not None:
            return self.cache_dir.resolve()
        return (self.data_dir / "services" / "cdn" / instance_id / "cache").resolve()
