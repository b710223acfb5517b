"""Events playback publishes (``matinee.playback.*``) for the pipeline and analytics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from matinee.platform.events import Event

__all__ = [
    "EVENTS",
    "BitrateSwitched",
    "PlaybackErrored",
    "PlaybackStarted",
    "PlaybackStopped",
    "Rebuffered",
    "event_for",
]


class _SessionEvent(Event):
    """What every playback event names: the session, who plays, what title and asset."""

    session_id: str = ""
    account_id: str = ""
    profile_id: str = ""
    title_id: int = 0
    asset_id: str = ""


class PlaybackStarted(_SessionEvent):
    """A session started: where it was steered and how it starts."""

    type = "matinee.playback.started"
    version = 1

    nodes: list[str] = Field(default_factory=list)
    region: str = ""
    plan: str = ""
    max_height: int = 0
    initial_bitrate_kbps: float = 0.0
    resume_position_s: float = 0.0
    # The asset's duration as media announced it; 0 means unknown (added within version 1).
    duration_s: float = 0.0


class PlaybackStopped(_SessionEvent):
    """A session ended: stopped by the player, or expired when its heartbeats stopped."""

    type = "matinee.playback.stopped"
    version = 1

    reason: str = "stopped"
    position_s: float = 0.0
    watched_s: float = 0.0
    # The duration of the asset the session played, as of its start: with ``position_s``
    # it tells how far through the title the viewer got. 0 means unknown (a session
    # opened before playback recorded durations, or a producer older than this field).
    duration_s: float = 0.0


class Rebuffered(_SessionEvent):
    """The player stalled (one event per heartbeat that reports new stalls)."""

    type = "matinee.playback.rebuffer"
    version = 1

    position_s: float = 0.0
    rebuffers: int = 0
    new_rebuffers: int = 1


class BitrateSwitched(_SessionEvent):
    """The player moved to another rung."""

    type = "matinee.playback.bitrate_switched"
    version = 1

    position_s: float = 0.0
    from_kbps: float = 0.0
    to_kbps: float = 0.0


class PlaybackErrored(_SessionEvent):
    """Something kept a viewer from playing: a refused start, or a player's reported error."""

    type = "matinee.playback.error"
    version = 1

    code: str = ""
    detail: str = ""
    node_id: str | None = None


EVENTS: dict[str, type[_SessionEvent]] = {
    "started": PlaybackStarted,
    "stopped": PlaybackStopped,
    "rebuffer": Rebuffered,
    "bitrate_switched": BitrateSwitched,
    "error": PlaybackErrored,
}


def event_for(kind: str, fields: Mapping[str, Any]) -> Event:
    """Return the event of ``kind`` ("started", ...) carrying ``fields``."""
    return EVENTS[kind].model_validate(dict(fields))
