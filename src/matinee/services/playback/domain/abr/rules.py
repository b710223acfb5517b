"""Classic rules: the throughput rule, BBA-0 and BOLA / BOLA-E, with Sabre's default settings.

| algorithm | decides from | state kept between calls |
|---|---|---|
| ``ThroughputRule`` | EWMA throughput x 0.9, capped by the buffer | EWMA, safety factor |
| ``Bba`` | buffer level only (reservoir, cushion) | none |
| ``Bola`` | buffer level (Lyapunov utility), throughput caps up-switches | EWMA, last rung |
| ``BolaE`` | BOLA + placeholder buffer + insufficient-buffer rule | placeholder, EWMA |
"""

from __future__ import annotations

from matinee.services.playback.domain.abr.base import (
    AbrBase,
    AbrInputs,
    DownloadProgress,
    DownloadResult,
    Ewma,
    clamp_rung,
    log_utilities,
    rung_for_rate,
)

# The insufficient-buffer rule's safety factor starts at 0.9 and decays per decision to 0.5
# (Spiteri et al., MMSys 2018), trusting the buffer less until estimates settle.
IBR_SAFETY_INIT = 0.9
IBR_SAFETY_FLOOR = 0.5


class ThroughputRule(AbrBase):
    """Pick the highest rung under 0.9 x the EWMA throughput; the buffer caps the segment size."""

    name = "throughput"
    safety = 0.9
    abandon_multiplier = 1.8
    abandon_grace_s = 0.5

    def __init__(self) -> None:
        self.ewma = Ewma()
        self.reset()

    def reset(self) -> None:
        """Forget the estimate and restart the insufficient-buffer safety factor."""
        self.ewma.reset()
        self.ibr_safety = IBR_SAFETY_INIT

    def choose(self, inputs: AbrInputs) -> int:
        """Return the rung the throughput estimate and the buffer both sustain."""
        seg = inputs.segment_duration_s
        self.ewma.update(inputs.throughput, seg)
        self._segment_s, self._bitrates = seg, tuple(inputs.bitrates_kbps)
        if not inputs.throughput or self.ewma.kbps <= 0:
            return 0
        tput, latency = self.ewma.kbps, self.ewma.latency_s
        rung = rung_for_rate(self.safety * tput, latency, seg, inputs.bitrates_kbps)
        # Never fetch more bits than the buffer can cover while they arrive.
        safe_bits = self.ibr_safety * (inputs.buffer_s - latency) * tput * 1000.0
        self.ibr_safety = max(self.ibr_safety * IBR_SAFETY_INIT, IBR_SAFETY_FLOOR)
        for lower in range(rung):
            if inputs.bitrates_kbps[lower + 1] * 1000.0 * seg > safe_bits:
                rung = lower
                break
        return clamp_rung(rung, inputs)

    def abandon(self, progress: DownloadProgress) -> int | None:
        """Drop to the rung the observed rate sustains if this download would run far too long."""
        transfer_s = progress.elapsed_s - progress.latency_s
        if progress.elapsed_s < self.abandon_grace_s or transfer_s <= 0:
            return None
        if progress.downloaded_bits <= 0 or progress.rung >= len(self._bitrates):
            return None
        rate_bps = progress.downloaded_bits / transfer_s
        left = progress.size_bits - progress.downloaded_bits
        seg = self._segment_s
        if progress.elapsed_s + left / rate_bps <= self.abandon_multiplier * seg:
            return None
        rung = rung_for_rate(
            self.safety * rate_bps / 1000.0, self.ewma.latency_s, seg, self._bitrates
        )
        smaller = progress.size_bits * self._bitrates[rung] / self._bitrates[progress.rung]
        if rung >= progress.rung or smaller >= left:
            return None
        return rung

    # The abandonment hook sees only the progress: ``choose`` keeps the ladder for it.
    _segment_s = 3.0
    _bitrates: tuple[float, ...] = (1.0,)


class Bba(AbrBase):
    """BBA-0 (Huang et al., SIGCOMM 2014): map the buffer linearly onto the ladder.

    Below the reservoir fetch the lowest rung, past reservoir + cushion the highest; in
    between, move only once the mapped rate crosses a neighbouring rung (hysteresis).
    The defaults fit a 25 s buffer the way the paper's 90 s + 126 s fit 240 s.
    """

    name = "bba"

    def __init__(self, reservoir_s: float = 5.0, cushion_s: float = 15.0) -> None:
        self.reservoir_s = reservoir_s
        self.cushion_s = cushion_s

    def choose(self, inputs: AbrInputs) -> int:
        """Return the rung the buffer level maps to."""
        rates = inputs.bitrates_kbps
        top = len(rates) - 1
        buffer_s = inputs.buffer_s
        if buffer_s <= self.reservoir_s:
            return 0
        if buffer_s >= self.reservoir_s + self.cushion_s:
            return top
        mapped = rates[0] + (rates[-1] - rates[0]) * (buffer_s - self.reservoir_s) / self.cushion_s
        prev = clamp_rung(inputs.last_rung if inputs.last_rung is not None else 0, inputs)
        if prev < top and mapped >= rates[prev + 1]:
            return max(r for r in range(top + 1) if rates[r] < mapped)
        if prev > 0 and mapped <= rates[prev - 1]:
            return min(r for r in range(top + 1) if rates[r] > mapped)
        return prev


class Bola(AbrBase):
    """BOLA (Spiteri, Urgaonkar, Sitaraman, INFOCOM 2016) as Sabre runs it by default.

    Maximises (V * (utility + gamma p) - buffer) / bitrate with utility = ln(bitrate /
    lowest); an up-switch is capped one rung above what the throughput sustains. The
    buffer target shrinks near the start and end of the video. Remembers its last rung.
    """

    name = "bola"
    gamma_p = 5.0

    def __init__(self) -> None:
        self.ewma = Ewma()
        self.reset()

    def reset(self) -> None:
        """Forget the estimate and the last rung."""
        self.ewma.reset()
        self.last: int | None = None
        self._v = 0.0
        self._utilities: list[float] = []
        self._bitrates: list[float] = []

    def _score_rung(self, buffer_s: float) -> int:
        best, best_score = 0, float("-inf")
        for rung, (u, b) in enumerate(zip(self._utilities, self._bitrates, strict=True)):
            score = (self._v * (u + self.gamma_p) - buffer_s) / b
            if score > best_score:
                best, best_score = rung, score
        return best

    def choose(self, inputs: AbrInputs) -> int:
        """Return BOLA's rung for the current buffer level."""
        seg = inputs.segment_duration_s
        self.ewma.update(inputs.throughput, seg)
        self._bitrates = list(inputs.bitrates_kbps)
        self._utilities = log_utilities(self._bitrates)
        if not inputs.throughput:
            self.last = 0
            return 0
        horizon = inputs.segment_index
        if inputs.segments_left is not None:
            horizon = min(horizon, inputs.segments_left)
        target = min(inputs.buffer_cap_s, max(horizon / 2, 3) * seg)
        self._v = (target - seg) / (self._utilities[-1] + self.gamma_p)
        rung = self._score_rung(inputs.buffer_s)
        last = self.last if self.last is not None else (inputs.last_rung or 0)
        if rung > last:
            sustained = rung_for_rate(
                self.ewma.kbps, self.ewma.latency_s, seg, inputs.bitrates_kbps
            )
            if rung > sustained:
                rung = last if last > sustained else sustained + 1
        self.last = clamp_rung(rung, inputs)
        return self.last

    def abandon(self, progress: DownloadProgress) -> int | None:
        """Restart at a lower rung if BOLA's objective now prefers it."""
        left = progress.size_bits - progress.downloaded_bits
        if progress.downloaded_bits <= 0 or left <= 0 or not self._bitrates:
            return None
        vp, gp, u, b = self._v, self.gamma_p, self._utilities, self._bitrates
        score = (vp * (gp + u[progress.rung]) - progress.buffer_s) / left
        if score < 0:
            return None
        choice = None
        for rung in range(progress.rung):
            size = progress.size_bits * b[rung] / b[progress.rung]
            other = (vp * (gp + u[rung]) - progress.buffer_s) / size
            if size < left and other > score:
                score, choice = other, rung
        if choice is not None:
            self.last = choice
        return choice


class BolaE(AbrBase):
    """BOLA-E (Spiteri, Sitaraman, Sparacio, MMSys 2018), Sabre's default ABR.

    BOLA with three additions: a *placeholder* (virtual buffer seconds) that lets BOLA
    start at the throughput rung and that absorbs full-buffer idling instead of letting
    the rung drop; the insufficient-buffer rule; and pacing (``wait_s``) when the buffer
    plus placeholder exceeds the chosen rung's target. State: the placeholder, the
    EWMA, the last rung and the safety factor. Drive ``on_wait``/``on_download`` for
    the placeholder to track; without them it behaves as BOLA with a fixed placeholder.
    """

    name = "bola-e"
    minimum_buffer_s = 10.0
    buffer_per_rung_s = 2.0

    def __init__(self) -> None:
        self.ewma = Ewma()
        self.reset()

    def reset(self) -> None:
        """Return to the startup state."""
        self.ewma.reset()
        self.placeholder_s = 0.0
        self.steady = False
        self.last: int | None = None
        self.ibr_safety = IBR_SAFETY_INIT
        self._wait = 0.0
        self._ladder: tuple[float, ...] = ()
        self._u: list[float] = []
        self._vp = 0.0
        self._gp = 0.0

    def _setup(self, inputs: AbrInputs) -> None:
        ladder = tuple(inputs.bitrates_kbps)
        if ladder == self._ladder:
            return
        self._ladder = ladder
        self._u = log_utilities(ladder, offset=1.0)
        buffer_s = max(
            self.minimum_buffer_s + self.buffer_per_rung_s * len(ladder), inputs.buffer_cap_s
        )
        if len(ladder) == 1:
            self._gp, self._vp = 1.0, self.minimum_buffer_s
            return
        self._gp = (self._u[-1] - 1) / (buffer_s / self.minimum_buffer_s - 1)
        self._vp = self.minimum_buffer_s / self._gp

    def _rung_for_level(self, level_s: float) -> int:
        best, best_score = 0, float("-inf")
        for rung, (u, b) in enumerate(zip(self._u, self._ladder, strict=True)):
            score = (self._vp * (u + self._gp) - level_s) / b
            if score > best_score:
                best, best_score = rung, score
        return best

    def min_level(self, rung: int) -> float:
        """Return the lowest buffer at which BOLA prefers ``rung`` to every lower one."""
        level = 0.0
        b, u = self._ladder[rung], self._u[rung]
        for lower in range(rung):
            bb, uu = self._ladder[lower], self._u[lower]
            if uu < u:
                level = max(level, self._vp * (self._gp + (b * uu - bb * u) / (b - bb)))
        return level

    def max_level(self, rung: int) -> float:
        """Return the buffer above which BOLA would rather idle than fetch ``rung``."""
        return self._vp * (self._u[rung] + self._gp)

    def wait_s(self) -> float:
        """Return the pacing delay decided by the last ``choose``."""
        return self._wait

    def choose(self, inputs: AbrInputs) -> int:
        """Return BOLA-E's rung and set the pacing delay."""
        self._setup(inputs)
        seg = inputs.segment_duration_s
        self.ewma.update(inputs.throughput, seg)
        self._wait = 0.0
        level = inputs.buffer_s
        last = self.last if self.last is not None else (inputs.last_rung or 0)
        if not self.steady:
            if not inputs.throughput:
                return clamp_rung(last, inputs)
            self.steady = True
            self.ibr_safety = IBR_SAFETY_INIT
            rung = rung_for_rate(self.ewma.kbps, self.ewma.latency_s, seg, self._ladder)
            self.placeholder_s = max(0.0, self.min_level(rung) - level)
            return rung
        tput, latency = self.ewma.kbps, self.ewma.latency_s
        rung = self._rung_for_level(level + self.placeholder_s)
        sustained = rung_for_rate(tput, latency, seg, self._ladder)
        if rung > last and rung > sustained:
            rung = max(last, sustained) + 1
        excess = level + self.placeholder_s - self.max_level(rung)
        if excess > 0:
            if excess <= self.placeholder_s:
                self.placeholder_s -= excess
            else:
                self._wait = excess - self.placeholder_s
                self.placeholder_s = 0.0
        if rung == len(self._ladder) - 1:
            self._wait = 0.0
        safe_bits = self.ibr_safety * (level - latency) * tput * 1000.0
        self.ibr_safety = max(self.ibr_safety * IBR_SAFETY_INIT, IBR_SAFETY_FLOOR)
        for lower in range(rung):
            if self._ladder[lower + 1] * 1000.0 * seg > safe_bits:
                rung = lower
                self._wait = 0.0
                cap = max(0.0, self.min_level(rung) - level)
                self.placeholder_s = min(cap, self.placeholder_s)
                break
        return clamp_rung(rung, inputs)

    def on_wait(self, seconds: float) -> None:
        """Grow the placeholder by the time spent idling on a full buffer."""
        self.placeholder_s += seconds

    def on_download(self, result: DownloadResult) -> None:
        """Keep the placeholder within the band that the downloaded rung justifies."""
        self.last = result.rung
        if not self._ladder:
            return
        level = result.buffer_s
        if result.abandoned_to is None:
            level_was = level + result.seconds
            ceiling = max(0.0, self.max_level(result.rung) - level_was)
            self.placeholder_s = min(self.placeholder_s, ceiling)
            if level > 0:
                self.placeholder_s = max(
                    self.placeholder_s, self.min_level(result.rung) - level_was
                )
        else:
            want = (
                self.min_level(result.abandoned_to)
                if result.abandoned_to > 0
                else self.minimum_buffer_s
            )
            self.placeholder_s = min(self.placeholder_s, max(0.0, want - level))

    def abandon(self, progress: DownloadProgress) -> int | None:
        """Restart at a lower rung if the objective, counting the placeholder, now prefers it."""
        left = progress.size_bits - progress.downloaded_bits
        transfer_s = progress.elapsed_s - progress.latency_s
        if progress.downloaded_bits <= 0 or left <= 0 or transfer_s <= 0 or not self._ladder:
            return None
        # A restart pays the latency again: judge from where we would be after it.
        level = max(0.0, progress.buffer_s + self.placeholder_s - progress.latency_s)
        rate = progress.downloaded_bits / transfer_s
        remaining = left - progress.latency_s * rate
        if remaining <= 0:
            return None
        vp, gp, u, b = self._vp, self._gp, self._u, self._ladder
        score = (vp * (gp + u[progress.rung]) - level) / remaining
        choice = None
        for rung in range(progress.rung):
            size = progress.size_bits * b[rung] / b[progress.rung]
            other = (vp * (gp + u[rung]) - level) / size
            if size < remaining and other > score:
                score, choice = other, rung
        return choice
