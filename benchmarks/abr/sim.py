"""A Sabre-compatible ABR session simulator driving ``matinee.services.playback.domain.abr``.

It models what Sabre (Spiteri et al., MMSys 2018) models, so figures compare with
published Sabre results on the same inputs:

- the network is a trace of periods (duration, bandwidth, latency), looped when the
  video outlasts it; every request first waits one latency of the period it starts in,
  then its bits flow at the bandwidth of whatever periods they cross;
- the player plays from the moment the first segment has arrived (that download is the
  startup delay, not a rebuffer); a stall is any time the buffer is empty afterwards;
- before each request the player idles while the buffer plus one segment exceeds the
  cap (25 s), and for as long as a pacing algorithm asks (``wait_s``);
- algorithms with an ``abandon`` hook are consulted while a download progresses
  (every 12,000 bits and 50 ms at least), and a download abandoned is discarded and
  the same segment chosen again; abandoned downloads give no throughput sample;
- per-session figures are time averages over the session's wall time (startup,
  stalls and playback): bitrate played, stall time / wall time, and summed
  |bitrate change| between consecutive segments per segment-duration of wall time,
  exactly Sabre's "time average" outputs.

Internally times are in ms and sizes in bits (bits/ms = kbit/s), as in the traces.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from matinee.services.playback.domain.abr import (
    AbrAlgorithm,
    AbrInputs,
    DownloadProgress,
    DownloadResult,
    PacedAbr,
    ThroughputSample,
)

REPO = Path(__file__).resolve().parents[2]
BUFFER_CAP_MS = 25_000.0
MIN_PROGRESS_BITS = 12_000.0
MIN_PROGRESS_MS = 50.0
LOOKAHEAD = 5
REBUFFER_WEIGHT = 4.3


def data_dir() -> Path:
    """Return the ABR data folder: $MATINEE_ABR_DATA, else ../shared/data/abr from the repo."""
    override = os.environ.get("MATINEE_ABR_DATA")
    return Path(override) if override else REPO.parent / "shared" / "data" / "abr"


@dataclass(frozen=True, slots=True)
class Period:
    duration_ms: float
    kbps: float
    latency_ms: float


@dataclass(frozen=True, slots=True)
class Movie:
    segment_ms: float
    bitrates_kbps: tuple[float, ...]
    sizes_bits: tuple[tuple[float, ...], ...]


def load_movie(path: Path) -> Movie:
    """Read a Sabre movie description."""
    raw = json.loads(path.read_text())
    return Movie(
        float(raw["segment_duration_ms"]),
        tuple(float(b) for b in raw["bitrates_kbps"]),
        tuple(tuple(float(s) for s in seg) for seg in raw["segment_sizes_bits"]),
    )


def load_trace(path: Path) -> list[Period]:
    """Read a Sabre network trace."""
    return [
        Period(float(p["duration_ms"]), float(p["bandwidth_kbps"]), float(p["latency_ms"]))
        for p in json.loads(path.read_text())
    ]


def load_traces(folder: Path) -> dict[str, list[Period]]:
    """Read every trace in ``folder``, by file stem, in name order."""
    return {p.stem: load_trace(p) for p in sorted(folder.glob("*.json"))}


class Network:
    """A looping trace with a clock: latency, transfers and idling all move through it."""

    def __init__(self, periods: Sequence[Period]) -> None:
        if not any(p.duration_ms > 0 for p in periods):
            raise ValueError("a trace needs at least one period with a duration")
        if not any(p.duration_ms > 0 and p.kbps > 0 for p in periods):
            raise ValueError("a trace needs some bandwidth, or no download ever finishes")
        self.periods = list(periods)
        self.index = -1
        self.left_ms = 0.0
        self._advance()

    def _advance(self) -> None:
        self.index = (self.index + 1) % len(self.periods)
        self.left_ms = self.periods[self.index].duration_ms

    @property
    def period(self) -> Period:
        return self.periods[self.index]

    def latency(self) -> float:
        """Spend one request latency (measured in the periods it spans); return its ms."""
        units, total = 1.0, 0.0
        while units > 0:
            need = units * self.period.latency_ms
            if need <= self.left_ms:
                self.left_ms -= need
                return total + need
            total += self.left_ms
            units -= self.left_ms / self.period.latency_ms
            self._advance()
        return total

    def transfer(self, bits: float) -> float:
        """Move ``bits``; return the ms it took."""
        total = 0.0
        while bits > 0:
            can = self.left_ms * self.period.kbps
            if bits <= can:
                spent = bits / self.period.kbps
                self.left_ms -= spent
                return total + spent
            total += self.left_ms
            bits -= can
            self._advance()
        return total

    def transfer_some(self, bits: float, min_bits: float, min_ms: float) -> tuple[float, float]:
        """Move up to ``bits`` until at least ``min_bits`` and ``min_ms``; return (bits, ms)."""
        moved, spent = 0.0, 0.0
        while bits - moved > 0 and (min_bits > 0 or min_ms > 0):
            kbps = self.period.kbps
            if kbps > 0:
                want = min(max(min_bits, min_ms * kbps), bits - moved)
                can = self.left_ms * kbps
                if want <= can:
                    dt = want / kbps
                    self.left_ms -= dt
                    return moved + want, spent + dt
                moved += can
                spent += self.left_ms
                min_bits -= can
                min_ms -= self.left_ms
                self._advance()
            elif min_bits > 0 or min_ms > self.left_ms:
                spent += self.left_ms
                min_ms -= self.left_ms
                self._advance()
            else:
                self.left_ms -= min_ms
                return moved, spent + min_ms
        return moved, spent

    def idle(self, ms: float) -> None:
        """Let ``ms`` pass without transferring."""
        while ms > self.left_ms:
            ms -= self.left_ms
            self._advance()
        self.left_ms -= ms


@dataclass
class SessionResult:
    """One session's figures (Sabre's time averages) and the raw totals behind them."""

    bitrate_kbps: float
    rebuffer_ratio: float
    change_kbps: float  # per segment-duration of wall time (Sabre's "time average")
    startup_s: float
    rebuffer_s: float
    wall_s: float
    rebuffer_events: int
    switches: int
    abandoned: int
    decision_ms: list[float] = field(default_factory=list)

    @property
    def qoe(self) -> float:
        """Return the linear QoE per the data README: Mbps - 4.3 x ratio - change Mbps."""
        return (
            self.bitrate_kbps / 1000
            - REBUFFER_WEIGHT * self.rebuffer_ratio
            - (self.change_kbps / 1000)
        )


class _Player:
    """The playout buffer and Sabre's bookkeeping of what was played and when."""

    def __init__(self, movie: Movie) -> None:
        self.movie = movie
        self.buffer: list[int] = []
        self.consumed_ms = 0.0  # of the segment at the head of the buffer
        self.wall_ms = 0.0
        self.rebuffer_ms = 0.0
        self.rebuffer_events = 0
        self.played_kbps = 0.0
        self.change_kbps = 0.0
        self.switches = 0
        self.last_played: int | None = None

    @property
    def level_ms(self) -> float:
        return self.movie.segment_ms * len(self.buffer) - self.consumed_ms

    def play(self, ms: float) -> None:
        """Let ``ms`` of wall time pass: play what is buffered, stall for the rest."""
        seg = self.movie.segment_ms
        if not self.buffer:
            self.rebuffer_ms += ms
            self.wall_ms += ms
            return
        if self.consumed_ms > 0:
            if ms + self.consumed_ms < seg:
                self.consumed_ms += ms
                self.wall_ms += ms
                return
            ms -= seg - self.consumed_ms
            self.wall_ms += seg - self.consumed_ms
            self.buffer.pop(0)
            self.consumed_ms = 0.0
        while ms > 0 and self.buffer:
            rung = self.buffer[0]
            rates = self.movie.bitrates_kbps
            self.played_kbps += rates[rung]
            if self.last_played is not None and rung != self.last_played:
                self.change_kbps += abs(rates[rung] - rates[self.last_played])
                self.switches += 1
            self.last_played = rung
            if ms >= seg:
                self.buffer.pop(0)
                self.wall_ms += seg
                ms -= seg
            else:
                self.consumed_ms = ms
                self.wall_ms += ms
                ms = 0
        if ms > 0:
            self.rebuffer_ms += ms
            self.wall_ms += ms
            self.rebuffer_events += 1


def simulate(
    algorithm: AbrAlgorithm,
    movie: Movie,
    trace: Sequence[Period],
    *,
    buffer_cap_ms: float = BUFFER_CAP_MS,
    abandonment: bool = True,
    clock: Callable[[], float] = time.perf_counter,
) -> SessionResult:
    """Play ``movie`` over ``trace`` with ``algorithm``; return the session's figures."""
    algorithm.reset()
    paced = algorithm if isinstance(algorithm, PacedAbr) else None
    net = Network(trace)
    player = _Player(movie)
    seg_ms = movie.segment_ms
    total = len(movie.sizes_bits)
    samples: list[ThroughputSample] = []
    decisions: list[float] = []
    abandoned = 0
    startup_ms = 0.0

    def inputs(index: int) -> AbrInputs:
        return AbrInputs(
            buffer_s=player.level_ms / 1000,
            segment_duration_s=seg_ms / 1000,
            bitrates_kbps=movie.bitrates_kbps,
            next_segment_bits=movie.sizes_bits[index],
            throughput=tuple(samples),
            last_rung=player.buffer[-1] if player.buffer else player.last_played,
            segment_index=index,
            segments_total=total,
            buffer_cap_s=buffer_cap_ms / 1000,
            upcoming_segment_bits=movie.sizes_bits[index + 1 : index + 1 + LOOKAHEAD],
        )

    def choose(index: int) -> int:
        started = clock()
        rung = algorithm.choose(inputs(index))
        decisions.append((clock() - started) * 1000)
        if not 0 <= rung < len(movie.bitrates_kbps):
            raise ValueError(f"{algorithm.name} chose rung {rung} of {len(movie.bitrates_kbps)}")
        return rung

    index = 0
    while index < total:
        if index > 0:
            full_ms = player.level_ms + seg_ms - buffer_cap_ms
            if full_ms > 0:
                player.play(full_ms)
                net.idle(full_ms)
                if paced is not None:
                    paced.on_wait(full_ms / 1000)
        rung = choose(index)
        if index > 0 and paced is not None:
            wait_ms = paced.wait_s() * 1000
            if wait_ms > 0:
                player.play(wait_ms)
                net.idle(wait_ms)
        size = movie.sizes_bits[index][rung]
        level_ms = player.level_ms
        latency_ms = net.latency()
        elapsed_ms, got, abandon_to = latency_ms, 0.0, None
        if index > 0 and abandonment and paced is not None:
            first = True
            while got < size:
                # After the latency only the size threshold matters for the first check.
                min_ms = MIN_PROGRESS_MS - latency_ms if first else MIN_PROGRESS_MS
                bits, ms = net.transfer_some(size - got, MIN_PROGRESS_BITS, min_ms)
                first = False
                got += bits
                elapsed_ms += ms
                if got >= size:
                    break
                progress = DownloadProgress(
                    rung=rung,
                    size_bits=size,
                    downloaded_bits=got,
                    elapsed_s=elapsed_ms / 1000,
                    latency_s=latency_ms / 1000,
                    buffer_s=max(0.0, level_ms - elapsed_ms) / 1000,
                )
                abandon_to = paced.abandon(progress)
                if abandon_to is not None:
                    break
        else:
            elapsed_ms += net.transfer(size)
            got = size
        if index == 0:
            startup_ms = elapsed_ms
            player.wall_ms += elapsed_ms
        else:
            player.play(elapsed_ms)
        if abandon_to is None:
            player.buffer.append(rung)
            index += 1
        else:
            abandoned += 1
        if paced is not None:
            paced.on_download(
                DownloadResult(rung, elapsed_ms / 1000, player.level_ms / 1000, abandon_to)
            )
        transfer_ms = elapsed_ms - latency_ms
        if abandon_to is None and transfer_ms > 0:
            samples.append(ThroughputSample(got, transfer_ms / 1000, latency_ms / 1000))
    player.play(player.level_ms)

    wall = player.wall_ms
    return SessionResult(
        bitrate_kbps=player.played_kbps * seg_ms / wall,
        rebuffer_ratio=player.rebuffer_ms / wall,
        change_kbps=player.change_kbps * seg_ms / wall,
        startup_s=startup_ms / 1000,
        rebuffer_s=player.rebuffer_ms / 1000,
        wall_s=wall / 1000,
        rebuffer_events=player.rebuffer_events,
        switches=player.switches,
        abandoned=abandoned,
        decision_ms=decisions,
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """Means over traces of the per-session figures, as the data README defines them."""

    algorithm: str
    sessions: int
    bitrate_kbps: float
    rebuffer_ratio: float
    change_kbps: float
    qoe: float
    startup_s: float
    decision_ms_mean: float
    decision_ms_p99: float


def summarise(name: str, results: Sequence[SessionResult]) -> Summary:
    """Average per-session figures over ``results``."""
    n = len(results)
    times = sorted(t for r in results for t in r.decision_ms)
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))] if times else 0.0
    return Summary(
        algorithm=name,
        sessions=n,
        bitrate_kbps=sum(r.bitrate_kbps for r in results) / n,
        rebuffer_ratio=sum(r.rebuffer_ratio for r in results) / n,
        change_kbps=sum(r.change_kbps for r in results) / n,
        qoe=sum(r.qoe for r in results) / n,
        startup_s=sum(r.startup_s for r in results) / n,
        decision_ms_mean=sum(times) / len(times) if times else 0.0,
        decision_ms_p99=p99,
    )
