"""Events media publishes: its public, versioned contract with consumers (catalog)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from matinee.platform.events import Event

__all__ = ["AssetReady", "RungSummary"]


class RungSummary(BaseModel):
    """One rung as consumers need it to choose, without the per-segment detail."""

    name: str
    width: int
    height: int
    bitrate_kbps: float
    average_bitrate_kbps: float
    codecs: str
    frame_rate: float


class AssetReady(Event):
    """An asset is published in the origin: every rung, manifest and thumbnail is there."""

    type = "matinee.media.asset_ready"
    version = 1

    asset_id: str
    title_id: int
    duration_s: float
    hls: str = "master.m3u8"
    dash: str = "manifest.mpd"
    poster: str | None = None
    rungs: list[RungSummary] = Field(default_factory=list)

    @classmethod
    def of(cls, ladder: dict[str, Any]) -> AssetReady:
        """Return the event announcing the asset a ladder.json describes."""
        return cls(
            asset_id=ladder["asset_id"],
            title_id=ladder["title_id"],
            duration_s=ladder["duration_s"],
            hls=ladder.get("hls", "master.m3u8"),
            dash=ladder.get("dash", "manifest.mpd"),
            poster=ladder.get("poster"),
            rungs=[RungSummary.model_validate(r) for r in ladder.get("rungs", [])],
        )
