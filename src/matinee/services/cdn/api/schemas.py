"""Request and response bodies of the node's own API (HTTP <-> node)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["JobPath", "NodeLoad", "NodeOut", "PrefillIn", "PrefillOut"]

AssetId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class PrefillIn(BaseModel):
    """Popular assets to fill ahead of demand, within a window and at a rate."""

    model_config = ConfigDict(extra="forbid")

    assets: list[AssetId] = Field(min_length=1, max_length=100)
    # Seconds the fill may take from now; what is not filled by then is left for demand.
    window_s: float | None = Field(default=None, gt=0, le=86_400)
    # Megabits per second the fill may take from the origin.
    rate_mbps: float | None = Field(default=None, gt=0, le=100_000)


class PrefillOut(BaseModel):
    """A prefill job and its progress."""

    job_id: str
    assets: list[str]
    window_s: float
    rate_mbps: float
    state: str
    planned: int
    filled: int
    already_cached: int
    failed: int
    bytes_filled: int
    missing_assets: list[str]


class JobPath(BaseModel):
    """Path of one prefill job."""

    job_id: str = Field(pattern=r"^[0-9a-f]{12}$")


class NodeLoad(BaseModel):
    """What the node is doing right now."""

    active_requests: int
    bytes_per_s: float


class NodeOut(BaseModel):
    """The node as steering sees it: place, health, load, capacity and inventory."""

    node_id: str
    region: str
    isp: str
    healthy: bool
    load: NodeLoad
    capacity_bytes: int
    used_bytes: int
    assets: list[str]
