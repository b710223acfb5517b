"""Just enough HLS for the reference player: master variants and media playlists (RFC 8216)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

__all__ = ["MediaPlaylist", "Variant", "parse_master", "parse_media"]

_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def _attrs(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTR.findall(text)}


@dataclass(frozen=True, slots=True)
class Variant:
    """One ``EXT-X-STREAM-INF`` entry: a video rung."""

    uri: str
    bandwidth: int
    average_bandwidth: int
    width: int
    height: int
    codecs: str


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    """A rendition's playlist: its init segment and its segments with durations."""

    init: str | None
    segments: list[tuple[str, float]] = field(default_factory=list)


def parse_master(text: str, base: str) -> tuple[list[Variant], str | None]:
    """Return the variants (absolute URIs, lowest bandwidth first) and the audio playlist."""
    if not text.lstrip().startswith("#EXTM3U"):
        raise ValueError("not an HLS playlist")
    variants: list[Variant] = []
    audio: str | None = None
    pending: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-MEDIA:"):
            attrs = _attrs(line.split(":", 1)[1])
            if attrs.get("TYPE") == "AUDIO" and attrs.get("URI") and audio is None:
                audio = urljoin(base, attrs["URI"])
        elif line.startswith("#EXT-X-STREAM-INF:"):
            pending = _attrs(line.split(":", 1)[1])
        elif line and not line.startswith("#") and pending is not None:
            width, _, height = pending.get("RESOLUTION", "0x0").partition("x")
            bandwidth = int(pending.get("BANDWIDTH", "0") or 0)
            variants.append(
                Variant(
                    uri=urljoin(base, line),
                    bandwidth=bandwidth,
                    average_bandwidth=int(pending.get("AVERAGE-BANDWIDTH", bandwidth) or 0),
                    width=int(width or 0),
                    height=int(height or 0),
                    codecs=pending.get("CODECS", ""),
                )
            )
            pending = None
    if not variants:
        raise ValueError("the master playlist lists no variant")
    variants.sort(key=lambda v: (v.bandwidth, v.height))
    return variants, audio


def parse_media(text: str, base: str) -> MediaPlaylist:
    """Return a media playlist's init segment and segments, as absolute URIs."""
    if not text.lstrip().startswith("#EXTM3U"):
        raise ValueError("not an HLS playlist")
    init: str | None = None
    segments: list[tuple[str, float]] = []
    duration: float | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-MAP:"):
            uri = _attrs(line.split(":", 1)[1]).get("URI")
            init = urljoin(base, uri) if uri else None
        elif line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((urljoin(base, line), duration))
            duration = None
    return MediaPlaylist(init, segments)
