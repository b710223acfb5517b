"""What playback knows about: assets and their rungs, CDN nodes, sessions and leases.

Plain values and the errors the rules raise; the HTTP layer maps each error to a
status (``api/routes.py``) and storage adapters persist the values (``storage/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "Asset",
    "AssetNotReady",
    "Device",
    "Heartbeat",
    "Manifest",
    "NodeState",
    "PlaybackError",
    "Rung",
    "Session",
    "SessionEnded",
    "SessionNotFound",
    "StartRequest",
    "Started",
    "StreamLimitReached",
    "TitleNotFound",
]


@dataclass(frozen=True, slots=True)
class Rung:
    """One video rendition of an asset, as media announced it."""

    name: str
    width: int
    height: int
    bitrate_kbps: float
    average_bitrate_kbps: float
    codecs: str
    frame_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Asset:
    """An encoded asset ready in the origin: its rungs (smallest first) and manifests."""

    asset_id: str
    title_id: int
    duration_s: float
    rungs: tuple[Rung, ...]
    hls: str = "master.m3u8"
    dash: str = "manifest.mpd"


@dataclass(frozen=True, slots=True)
class Device:
    """What the client can decode: the tallest picture and codec families (``avc1``, ...)."""

    max_height: int = 1080
    codecs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StartRequest:
    """A viewer pressing play."""

    account_id: str
    plan: str
    profile_id: str
    title_id: int
    device: Device = field(default_factory=Device)
    throughput_kbps: float | None = None
    region: str = ""
    isp: str = ""


@dataclass(frozen=True, slots=True)
class NodeState:
    """A CDN node as steering sees it: discovery's entry merged with its last ``/node`` report."""

    node_id: str
    url: str
    region: str = ""
    isp: str = ""
    healthy: bool = True
    # None until the first report arrives: steering treats the node as idle and empty.
    active_requests: int = 0
    bytes_per_s: float = 0.0
    capacity_bytes: int = 0
    used_bytes: int = 0
    assets: frozenset[str] = frozenset()
    reported: bool = False


@dataclass(frozen=True, slots=True)
class Manifest:
    """One node's signed manifest URL, in failover order."""

    node_id: str
    region: str
    url: str


@dataclass(frozen=True, slots=True)
class Session:
    """A playback session holding one stream lease of its account."""

    session_id: str
    account_id: str
    profile_id: str
    title_id: int
    asset_id: str
    started_at: float
    lease_expires_at: float
    state: str = "active"  # active | stopped | expired
    position_s: float = 0.0
    bitrate_kbps: float = 0.0
    rebuffers: int = 0
    # The asset's duration when the session opened (0: unknown), so that the ``stopped``
    # event says how far through the title the viewer got without another read.
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Started:
    """What ``start`` hands back to the player."""

    session: Session
    asset: Asset
    manifests: tuple[Manifest, ...]
    dash: tuple[Manifest, ...]
    ladder: tuple[Rung, ...]
    initial_bitrate_kbps: float
    resume_position_s: float
    lease_ttl_s: float
    heartbeat_every_s: float
    max_height: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What a player reports while it plays."""

    position_s: float
    buffer_s: float = 0.0
    bitrate_kbps: float = 0.0
    rebuffers: int = 0
    throughput_kbps: float | None = None
    error: str | None = None
    node_id: str | None = None


class PlaybackError(Exception):
    """Base of playback's domain errors."""


class TitleNotFound(PlaybackError):
    """Playback knows no asset mapping for this title (catalog never gave it one)."""

    def __init__(self, title_id: int) -> None:
        super().__init__(f"title {title_id} does not exist or has no video")
        self.title_id = title_id


class AssetNotReady(PlaybackError):
    """The title names an asset, but media has not announced it ready yet."""

    def __init__(self, title_id: int, asset_id: str | None = None) -> None:
        what = f"asset {asset_id}" if asset_id else "no asset"
        super().__init__(f"title {title_id} has {what} ready to play yet")
        self.title_id = title_id


class StreamLimitReached(PlaybackError):
    """The account already plays as many streams as its plan allows."""

    def __init__(self, plan: str, limit: int, active: int) -> None:
        super().__init__(
            f"the {plan} plan allows {limit} stream(s) at once and {active} already play;"
            " stop one or upgrade the plan"
        )
        self.plan = plan
        self.limit = limit
        self.active = active


class SessionNotFound(PlaybackError):
    """No such session for this account."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} does not exist")


class SessionEnded(PlaybackError):
    """The session was stopped; a stopped session is never revived."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} has ended; start a new one")


def codec_family(codecs: str) -> str:
    """Return the video codec family of an RFC 6381 list (``avc1.64001f,mp4a.40.2`` -> avc1)."""
    first = codecs.split(",", 1)[0].strip()
    return first.split(".", 1)[0].lower()


def rungs_at_most(rungs: Sequence[Rung], height: int) -> tuple[Rung, ...]:
    """Return the rungs no taller than ``height`` (the smallest one if none fits)."""
    fit = tuple(r for r in rungs if r.height <= height)
    return fit or tuple(rungs[:1])
