"""Per-title ladder selection: which rungs a source gets, and at what bitrates.

Rungs come from a fixed set of heights, kept only where they would not upscale
the source; a source between two heights also gets a rung at its own height, so
the best picture is never thrown away. The bitrates scale with the source's
measured complexity: a cartoon needs far fewer bits than grain or sport at the
same quality (the idea behind Netflix's per-title encoding).

| call | gives |
|---|---|
| ``choose_ladder(source, complexity=1.0)`` | rungs, smallest first |
| ``complexity_of(bits_per_pixel)`` | the factor from a quick constant-quality probe |
"""

from __future__ import annotations

from matinee.services.media.domain.model import Rung, SourceInfo

__all__ = ["BASE_RUNGS", "MAX_COMPLEXITY", "MIN_COMPLEXITY", "choose_ladder", "complexity_of"]

# (height, video kbps at complexity 1.0 and <= 30 fps)
BASE_RUNGS: tuple[tuple[int, int], ...] = (
    (240, 400),
    (360, 800),
    (480, 1400),
    (720, 2800),
    (1080, 5000),
    (1440, 9000),
    (2160, 15000),
)
MIN_COMPLEXITY = 0.4
MAX_COMPLEXITY = 2.0
# Bits per pixel a typical film takes in the probe (x264 CRF 26, veryfast).
_REFERENCE_BPP = 0.06
# A native rung is added only when the source is this much taller than the top table rung.
_NATIVE_MARGIN = 1.1
# Bitrates of neighbouring rungs differ at least this much, or the lower rung is useless.
_MIN_STEP = 1.35


def complexity_of(bits_per_pixel: float) -> float:
    """Return the complexity factor of a source from its probe's bits per pixel."""
    if bits_per_pixel <= 0:
        return MIN_COMPLEXITY
    # Square root: doubling the probe's bits does not double what a rung needs.
    factor = (bits_per_pixel / _REFERENCE_BPP) ** 0.5
    return round(min(MAX_COMPLEXITY, max(MIN_COMPLEXITY, factor)), 3)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _bitrate_for(height: int) -> int:
    """Return the base kbps of any height, interpolating by pixel count."""
    below = [(h, k) for h, k in BASE_RUNGS if h <= height]
    h0, k0 = below[-1] if below else BASE_RUNGS[0]
    return int(k0 * (height / h0) ** 2) if height < h0 else int(k0 * (height / h0) ** 1.5)


def choose_ladder(source: SourceInfo, complexity: float = 1.0, max_rungs: int = 6) -> list[Rung]:
    """Return the rungs for ``source``, smallest first, never larger than the source."""
    complexity = min(MAX_COMPLEXITY, max(MIN_COMPLEXITY, complexity))
    # The shorter side picks the rung, so portrait video gets the same ladder as landscape.
    portrait = source.height > source.width
    short, long_ = (source.width, source.height) if portrait else (source.height, source.width)
    aspect = long_ / short
    heights = [h for h, _ in BASE_RUNGS if h <= short]
    if not heights or short >= heights[-1] * _NATIVE_MARGIN:
        heights.append(_even(short))
    fps_factor = 1.3 if source.frame_rate > 35 else 1.0
    rungs: list[Rung] = []
    for height in heights[-max_rungs:]:
        # Even sides (4:2:0 chroma), and never past the source on either side.
        side = min(_even(height), short - short % 2)
        other = min(_even(side * aspect), long_ - long_ % 2)
        kbps = max(100, int(round(_bitrate_for(height) * complexity * fps_factor / 10) * 10))
        rungs.append(
            Rung(
                name=f"{height}p",
                width=side if portrait else other,
                height=other if portrait else side,
                bitrate_kbps=kbps,
                profile="main" if height <= 360 else "high",
            )
        )
    # Drop a lower rung too close in bitrate to the one above it; the top rung stays.
    kept: list[Rung] = []
    for rung in reversed(rungs):
        if not kept or kept[-1].bitrate_kbps >= rung.bitrate_kbps * _MIN_STEP:
            kept.append(rung)
    return list(reversed(kept))
