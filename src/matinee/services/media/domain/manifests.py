"""Manifests of an encoded asset: the HLS master playlist, the DASH MPD and ladder.json.

All three describe the same files: every video rung and the audio rendition are
CMAF tracks (an ``init.mp4`` and ``seg_<n>.m4s`` fragments), listed once in the
rendition's HLS media playlist and again by a DASH ``SegmentTemplate``. The
bitrates they announce are measured from the segments written, not the encoder's
targets: ``BANDWIDTH`` is the peak segment rate and ``AVERAGE-BANDWIDTH`` the mean,
as RFC 8216 defines them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

__all__ = [
    "AUDIO_GROUP",
    "Rendition",
    "Segment",
    "build_ladder",
    "dash_mpd",
    "hls_master",
    "parse_media_playlist",
]

AUDIO_GROUP = "aud"
_MS = 1000


@dataclass(frozen=True, slots=True)
class Segment:
    """One media segment as written: its URI relative to the asset, duration and size."""

    uri: str
    duration_s: float
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Rendition:
    """One encoded track: a video rung or the audio rendition."""

    name: str
    kind: str  # "video" | "audio"
    codec: str  # RFC 6381: "avc1.64001f", "mp4a.40.2"
    init: str
    playlist: str
    segments: tuple[Segment, ...]
    target_kbps: int = 0
    width: int = 0
    height: int = 0
    frame_rate: float = 0.0
    channels: int = 0
    sample_rate: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Return the summed segment durations."""
        return sum(s.duration_s for s in self.segments)

    @property
    def peak_bps(self) -> int:
        """Return the highest bit rate of any one segment."""
        return max((math.ceil(s.size_bytes * 8 / s.duration_s) for s in self.segments
                    if s.duration_s > 0), default=0)  # fmt: skip

    @property
    def average_bps(self) -> int:
        """Return the mean bit rate over the whole rendition."""
        total = self.duration_s
        return math.ceil(sum(s.size_bytes for s in self.segments) * 8 / total) if total else 0


def parse_media_playlist(text: str, prefix: str) -> list[tuple[str, float]]:
    """Return ``(uri, duration)`` for each segment of an HLS media playlist."""
    out: list[tuple[str, float]] = []
    duration: float | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            out.append((f"{prefix}/{line}" if prefix else line, duration))
            duration = None
    return out


def _frame_rate(value: float) -> str:
    return f"{value:.3f}"


def hls_master(video: Sequence[Rendition], audio: Rendition | None) -> str:
    """Return the HLS master playlist: one variant per video rung, audio as its own group."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio is not None:
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="{audio.name}",'
            f'LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="{audio.channels or 2}",'
            f'URI="{audio.playlist}"'
        )
    for rung in video:
        codecs = rung.codec if audio is None else f"{rung.codec},{audio.codec}"
        peak = rung.peak_bps + (audio.peak_bps if audio else 0)
        average = rung.average_bps + (audio.average_bps if audio else 0)
        attrs = [
            f"BANDWIDTH={peak}",
            f"AVERAGE-BANDWIDTH={average}",
            f'CODECS="{codecs}"',
            f"RESOLUTION={rung.width}x{rung.height}",
            f"FRAME-RATE={_frame_rate(rung.frame_rate)}",
        ]
        if audio is not None:
            attrs.append(f'AUDIO="{AUDIO_GROUP}"')
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attrs))
        lines.append(rung.playlist)
    return "\n".join(lines) + "\n"


def _iso_duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def _template(rendition: Rendition) -> list[str]:
    # Segment names are seg_<n>.m4s numbered from 1, in the rendition's own directory.
    folder = rendition.init.rsplit("/", 1)[0]
    timeline: list[list[int]] = []
    for seg in rendition.segments:
        duration = max(1, round(seg.duration_s * _MS))
        if timeline and timeline[-1][0] == duration:
            timeline[-1][1] += 1
        else:
            timeline.append([duration, 1])
    lines = [
        f'        <SegmentTemplate timescale="{_MS}" startNumber="1"'
        f" initialization={quoteattr(rendition.init)}"
        f" media={quoteattr(folder + '/seg_$Number$.m4s')}>",
        "          <SegmentTimeline>",
    ]
    for index, (duration, count) in enumerate(timeline):
        start = ' t="0"' if index == 0 else ""
        repeat = f' r="{count - 1}"' if count > 1 else ""
        lines.append(f'            <S{start} d="{duration}"{repeat}/>')
    lines += ["          </SegmentTimeline>", "        </SegmentTemplate>"]
    return lines


def dash_mpd(video: Sequence[Rendition], audio: Rendition | None, duration_s: float) -> str:
    """Return a static DASH MPD (CMAF, on-demand) over the very segments HLS lists."""
    total = _iso_duration(duration_s)
    max_seg = max((s.duration_s for r in video for s in r.segments), default=4.0)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"'
        ' profiles="urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019"'
        f' mediaPresentationDuration="{total}" minBufferTime="PT{max_seg:.1f}S"'
        f' maxSegmentDuration="PT{max_seg:.3f}S">',
        f'  <Period id="0" start="PT0S" duration="{total}">',
        '    <AdaptationSet id="0" contentType="video" mimeType="video/mp4"'
        ' segmentAlignment="true" startWithSAP="1">',
    ]
    for rung in video:
        lines.append(
            f'      <Representation id={quoteattr(rung.name)} bandwidth="{rung.peak_bps}"'
            f' codecs="{rung.codec}" width="{rung.width}" height="{rung.height}"'
            f' frameRate="{_frame_rate(rung.frame_rate)}">'
        )
        lines += _template(rung)
        lines.append("      </Representation>")
    lines.append("    </AdaptationSet>")
    if audio is not None:
        lines += [
            '    <AdaptationSet id="1" contentType="audio" mimeType="audio/mp4"'
            ' segmentAlignment="true" lang="und">',
            f'      <Representation id={quoteattr(audio.name)} bandwidth="{audio.peak_bps}"'
            f' codecs="{audio.codec}" audioSamplingRate="{audio.sample_rate or 48000}">',
            "        <AudioChannelConfiguration schemeIdUri="
            '"urn:mpeg:dash:23003:3:audio_channel_configuration:2011"'
            f' value="{audio.channels or 2}"/>',
        ]
        lines += _template(audio)
        lines += ["      </Representation>", "    </AdaptationSet>"]
    lines += ["  </Period>", "</MPD>"]
    return "\n".join(lines) + "\n"


def _describe(r: Rendition, audio: Rendition | None) -> dict[str, Any]:
    with_audio = r.kind == "video" and audio is not None
    peak = r.peak_bps + (audio.peak_bps if with_audio and audio else 0)
    average = r.average_bps + (audio.average_bps if with_audio and audio else 0)
    out: dict[str, Any] = {
        "name": r.name,
        # What the rendition costs to play, audio included for a video rung (as in HLS).
        "bitrate_kbps": round(peak / 1000, 1),
        # Exactly the master playlist's BANDWIDTH and AVERAGE-BANDWIDTH (bits/s).
        "bandwidth": peak,
        "average_bandwidth": average,
        "average_bitrate_kbps": round(average / 1000, 1),
        # The track alone, for ABR over the per-segment sizes below.
        "peak_track_kbps": round(r.peak_bps / 1000, 1),
        "average_track_kbps": round(r.average_bps / 1000, 1),
        "target_kbps": r.target_kbps,
        "codecs": f"{r.codec},{audio.codec}" if with_audio and audio else r.codec,
        "codec": r.codec,
        "segment_duration_s": round(max((s.duration_s for s in r.segments), default=0.0), 3),
        "playlist": r.playlist,
        "init": r.init,
        "segment_template": r.init.rsplit("/", 1)[0] + "/seg_$Number$.m4s",
        "segments": [s.uri for s in r.segments],
        "segment_durations": [round(s.duration_s, 6) for s in r.segments],
        "segment_sizes": [s.size_bytes for s in r.segments],
    }
    if r.kind == "video":
        out.update(width=r.width, height=r.height, frame_rate=round(r.frame_rate, 3))
    else:
        out.update(channels=r.channels, sample_rate=r.sample_rate)
    out.update(r.extra)
    return out


def build_ladder(
    video: Sequence[Rendition],
    audio: Rendition | None,
    *,
    asset_id: str,
    title_id: int,
    duration_s: float,
    segment_seconds: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return ladder.json: every rung with its measured bitrates and segment sizes."""
    return {
        "asset_id": asset_id,
        "title_id": title_id,
        "duration_s": round(duration_s, 3),
        "segment_duration_s": segment_seconds,
        "segment_count": len(video[0].segments) if video else 0,
        "hls": "master.m3u8",
        "dash": "manifest.mpd",
        "rungs": [_describe(r, audio) for r in video],
        "audio": _describe(audio, None) if audio is not None else None,
        **(extra or {}),
    }
