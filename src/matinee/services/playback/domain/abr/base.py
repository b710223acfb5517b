"""The ABR interface: what a player tells an algorithm, what it answers, and shared estimators.

Units: seconds, bits and kbps (kbit/s) everywhere; rungs index ``bitrates_kbps`` (ascending).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable


class ThroughputSample(NamedTuple):
    """One finished download: its size, transfer time (first to last bit) and latency."""

    bits: float
    seconds: float
    latency_s: float = 0.0

    @property
    def kbps(self) -> float:
        """Return the transfer rate in kbit/s (0 for a degenerate sample)."""
        return self.bits / self.seconds / 1000.0 if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class AbrInputs:
    """Everything an algorithm may look at to choose the next segment's rung."""

    buffer_s: float
    segment_duration_s: float
    bitrates_kbps: Sequence[float]
    next_segment_bits: Sequence[float]
    throughput: Sequence[ThroughputSample] = ()
    last_rung: int | None = None
    segment_index: int = 0
    segments_total: int | None = None
    buffer_cap_s: float = 25.0
    # Sizes of the segments after the next one (lookahead for planners); empty: use bitrates.
    upcoming_segment_bits: Sequence[Sequence[float]] = ()

    def segment_bits(self, ahead: int, rung: int) -> float:
        """Return the size of the segment ``ahead`` places after the next one at ``rung``."""
        if ahead == 0 and rung < len(self.next_segment_bits):
            return float(self.next_segment_bits[rung])
        if 0 < ahead <= len(self.upcoming_segment_bits):
            sizes = self.upcoming_segment_bits[ahead - 1]
            if rung < len(sizes):
                return float(sizes[rung])
        return self.bitrates_kbps[rung] * 1000.0 * self.segment_duration_s

    @property
    def segments_left(self) -> int | None:
        """Return how many segments remain including the next one, if the total is known."""
        return None if self.segments_total is None else self.segments_total - self.segment_index


class DownloadProgress(NamedTuple):
    """A download in flight, as offered to an algorithm that may abandon it."""

    rung: int
    size_bits: float
    downloaded_bits: float
    elapsed_s: float
    latency_s: float
    buffer_s: float


class DownloadResult(NamedTuple):
    """A finished (or abandoned) download, reported back to a stateful algorithm."""

    rung: int
    seconds: float
    buffer_s: float
    abandoned_to: int | None = None


@runtime_checkable
class AbrAlgorithm(Protocol):
    """Choose a rung per segment; ``reset`` forgets any state before a new session."""

    name: str

    def choose(self, inputs: AbrInputs) -> int: ...

    def reset(self) -> None: ...


@runtime_checkable
class PacedAbr(AbrAlgorithm, Protocol):
    """Optional hooks for players that idle, abandon downloads and report back.

    A player that ignores them still gets sound rungs from ``choose``.
    """

    def wait_s(self) -> float: ...

    def on_wait(self, seconds: float) -> None: ...

    def on_download(self, result: DownloadResult) -> None: ...

    def abandon(self, progress: DownloadProgress) -> int | None: ...


class AbrBase:
    """No-op hooks and validation shared by the built-in algorithms."""

    name = "base"

    def reset(self) -> None:
        """Forget everything learnt in the previous session."""

    def wait_s(self) -> float:
        """Return the idle time wanted before fetching the rung just chosen."""
        return 0.0

    def on_wait(self, seconds: float) -> None:
        """Note that the player idled ``seconds`` because its buffer was full."""

    def on_download(self, result: DownloadResult) -> None:
        """Note a finished or abandoned download."""

    def abandon(self, progress: DownloadProgress) -> int | None:
        """Return a lower rung to restart the download at, or None to carry on."""
        return None


def clamp_rung(rung: int, inputs: AbrInputs) -> int:
    """Return ``rung`` forced into the valid range for ``inputs``."""
    return max(0, min(int(rung), len(inputs.bitrates_kbps) - 1))


def rung_for_rate(
    rate_kbps: float, latency_s: float, segment_s: float, bitrates: Sequence[float]
) -> int:
    """Return the highest rung whose segment, after ``latency_s``, downloads within its duration."""
    if rate_kbps <= 0 or segment_s <= 0:
        return 0
    rung = 0
    while (
        rung + 1 < len(bitrates)
        and latency_s + segment_s * bitrates[rung + 1] / rate_kbps <= segment_s
    ):
        rung += 1
    return rung


def harmonic_mean_kbps(samples: Sequence[ThroughputSample], window: int = 5) -> float:
    """Return the harmonic mean rate of the last ``window`` samples (0 without any)."""
    rates = [s.kbps for s in samples[-window:]]
    if not rates:
        return 0.0
    if min(rates) <= 0:
        return 0.0
    return len(rates) / sum(1.0 / r for r in rates)


class Ewma:
    """Sabre's throughput and latency estimate: two EWMAs, the more cautious one wins.

    Throughput decays with download time (half-lives in seconds), latency per sample.
    ``update`` consumes only samples it has not seen, so calling it once per decision
    with the whole history costs O(1); a shorter history than before restarts it.
    """

    def __init__(self, half_lives_s: Sequence[float] = (3.0, 8.0)) -> None:
        self.half_lives_s = tuple(half_lives_s)
        self.reset()

    def reset(self) -> None:
        """Forget every sample."""
        n = len(self.half_lives_s)
        self._rate = [0.0] * n
        self._latency = [0.0] * n
        self._weight_s = 0.0
        self._count = 0
        self.kbps = 0.0
        self.latency_s = 0.0

    def update(self, samples: Sequence[ThroughputSample], segment_s: float) -> None:
        """Fold in the samples added since the last call."""
        if len(samples) < self._count:
            self.reset()
        for sample in samples[self._count :]:
            self._push(sample, segment_s)
        self._count = len(samples)

    def _push(self, sample: ThroughputSample, segment_s: float) -> None:
        rate = sample.kbps
        for i, half_life in enumerate(self.half_lives_s):
            alpha = 0.5 ** (sample.seconds / half_life)
            self._rate[i] = alpha * self._rate[i] + (1 - alpha) * rate
            # Latency decays per sample: its half-life counted in segments.
            beta = 0.5 ** (segment_s / half_life)
            self._latency[i] = beta * self._latency[i] + (1 - beta) * sample.latency_s
        self._weight_s += sample.seconds
        count = self._count + 1
        rates, latencies = [], []
        for i, half_life in enumerate(self.half_lives_s):
            zero = 1 - 0.5 ** (self._weight_s / half_life)
            rates.append(self._rate[i] / zero if zero > 0 else rate)
            zero = 1 - 0.5 ** (count * segment_s / half_life)
            latencies.append(self._latency[i] / zero if zero > 0 else sample.latency_s)
        self.kbps = min(rates)
        self.latency_s = max(latencies)
        self._count = count


def log_utilities(bitrates: Sequence[float], offset: float = 0.0) -> list[float]:
    """Return ln(bitrate / lowest bitrate) + ``offset`` per rung (BOLA's utilities)."""
    base = math.log(bitrates[0])
    return [math.log(b) - base + offset for b in bitrates]
