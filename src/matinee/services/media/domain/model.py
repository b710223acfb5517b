"""Media domain types: what a source is, what a ladder rung is, what can go wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ASSET_ID",
    "MediaError",
    "Rung",
    "SourceChanged",
    "SourceInfo",
    "TransientFailure",
    "Unplayable",
    "asset_id_of",
]

# An asset id is the first 16 hex digits of the source's SHA-256: the same file is the
# same asset, which is what makes a second ingest of it a no-op.
ASSET_ID = re.compile(r"^[0-9a-f]{16}$")


def asset_id_of(sha256_hex: str) -> str:
    """Return the asset id of a source from its SHA-256 hex digest."""
    return sha256_hex[:16].lower()


class MediaError(Exception):
    """Base of media's domain errors; ``permanent`` ones are never retried."""

    permanent = True


class Unplayable(MediaError):
    """The source cannot be streamed: no video, no duration, or not a media file at all."""


class SourceChanged(MediaError):
    """The file at the ingested path is no longer the file that was ingested."""


class TransientFailure(MediaError):
    """A failure worth another attempt (ffmpeg crashed, the disk was full, ...)."""

    permanent = False


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What probing a source found."""

    width: int
    height: int
    duration_s: float
    frame_rate: float
    video_codec: str
    has_audio: bool
    audio_codec: str = ""
    audio_channels: int = 0

    def check_playable(self, min_duration_s: float = 0.5) -> None:
        """Raise :class:`Unplayable` unless this source can become a stream."""
        if self.width < 16 or self.height < 16:
            raise Unplayable(f"the video is {self.width}x{self.height}; at least 16x16 is needed")
        if self.duration_s < min_duration_s:
            raise Unplayable(
                f"the video lasts {self.duration_s:.2f} s; at least {min_duration_s} s is needed"
            )


@dataclass(frozen=True, slots=True)
class Rung:
    """One rendition of the ladder: a resolution and the bitrate the encoder aims at."""

    name: str
    width: int
    height: int
    bitrate_kbps: int
    profile: str = "high"
