"""Proactive fill: which objects an asset has, and how fast to fetch them.

Popular assets are filled ahead of demand (Open Connect fills its appliances off
peak): every object the asset's ``ladder.json`` names, playlists first so a player
arriving mid-fill can start, then each rendition's init segment and its segments in
playback order, interleaved across rungs so the first minutes of every rung are
there before the last minutes of any. The fetches are paced to a byte rate and
stop at the end of the window.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import zip_longest
from typing import Any

__all__ = ["Pacer", "prefill_plan"]


def prefill_plan(ladder: Mapping[str, Any]) -> list[str]:
    """Return the object paths of an asset in fill order (playlists, inits, segments)."""
    first: list[str] = []
    tracks: list[list[str]] = []
    for key in ("hls", "dash"):
        name = ladder.get(key)
        if isinstance(name, str):
            first.append(name)
    renditions = [r for r in ladder.get("rungs") or () if isinstance(r, Mapping)]
    audio = ladder.get("audio")
    if isinstance(audio, Mapping):
        renditions.append(audio)
    for rendition in renditions:
        for key in ("playlist", "init"):
            name = rendition.get(key)
            if isinstance(name, str):
                first.append(name)
        segments = rendition.get("segments") or ()
        tracks.append([s for s in segments if isinstance(s, str)])
    ordered = list(first)
    for row in zip_longest(*tracks):
        ordered.extend(s for s in row if s is not None)
    return list(dict.fromkeys(ordered))  # the same object listed twice is filled once


class Pacer:
    """Keeps a transfer at or below ``rate`` bytes per second since ``start``."""

    def __init__(self, rate_bytes_per_s: float, start: float) -> None:
        if rate_bytes_per_s <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate_bytes_per_s
        self.start = start
        self.sent = 0

    def delay_after(self, nbytes: int, now: float) -> float:
        """Account ``nbytes`` just fetched; return seconds to wait before the next fetch."""
        self.sent += nbytes
        due = self.start + self.sent / self.rate
        return max(0.0, due - now)
