"""Request and response bodies of playback's API, with the limits bad input runs into."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DeviceIn", "HeartbeatIn", "NetworkIn", "SessionPath", "StartIn", "StopIn"]

_ID = r"^[A-Za-z0-9_.:-]{1,64}$"


class DeviceIn(BaseModel):
    """What the client decodes: the tallest picture and RFC 6381 codec names."""

    max_height: int = Field(default=1080, ge=144, le=4320)
    codecs: list[str] = Field(default_factory=list, max_length=16)

    @field_validator("codecs")
    @classmethod
    def _short(cls, value: list[str]) -> list[str]:
        if any(not c or len(c) > 64 for c in value):
            raise ValueError("each codec is 1 to 64 characters")
        return value


class NetworkIn(BaseModel):
    """What the client measured of its network, if anything."""

    throughput_kbps: float | None = Field(default=None, gt=0, le=10_000_000)


class StartIn(BaseModel):
    """``POST /playback/start``."""

    model_config = ConfigDict(extra="ignore")

    title_id: int = Field(ge=1, le=2**53)
    profile_id: str = Field(pattern=_ID)
    device: DeviceIn = Field(default_factory=DeviceIn)
    network: NetworkIn | None = None
    region: str | None = Field(default=None, max_length=64)
    isp: str | None = Field(default=None, max_length=64)

    @field_validator("profile_id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        # users' profile ids may arrive as numbers from clients that parsed them so.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class HeartbeatIn(BaseModel):
    """``POST /playback/{session}/heartbeat``: what the player sees now."""

    position_s: float = Field(ge=0, le=10_000_000)
    buffer_s: float = Field(default=0.0, ge=0, le=86_400)
    bitrate_kbps: float = Field(default=0.0, ge=0, le=1_000_000)
    rebuffers: int = Field(default=0, ge=0, le=1_000_000)
    throughput_kbps: float | None = Field(default=None, ge=0, le=10_000_000)
    error: str | None = Field(default=None, max_length=500)
    node_id: str | None = Field(default=None, max_length=128)


class StopIn(BaseModel):
    """``POST /playback/{session}/stop``."""

    position_s: float = Field(default=0.0, ge=0, le=10_000_000)


class SessionPath(BaseModel):
    """The session named in the path."""

    session: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
