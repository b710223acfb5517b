"""A network throttle that follows a trace in Sabre's JSON format, looped.

Each period of the trace has a duration, a bandwidth and a latency. A request first
waits the latency of the period it starts in; its bytes then arrive no faster than
the bandwidth of the periods they cross. Transfers share the link one after another.

| usage | effect |
|---|---|
| ``Throttle.from_file("trace.json")`` | follows the trace, starting now |
| ``Throttle.unlimited()`` | no shaping (the real link's speed) |
| ``await throttle.request_latency()`` | waits the current period's latency |
| ``await throttle.consume(len(chunk))`` | waits until those bytes may have arrived |
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

__all__ = ["Period", "Throttle", "load_trace"]

Period = tuple[float, float, float]  # (duration_s, kbps, latency_s)


def load_trace(path: str | Path) -> list[Period]:
    """Read a Sabre trace: ``[{"duration_ms", "bandwidth_kbps", "latency_ms"}, ...]``."""
    raw = json.loads(Path(path).read_text())
    periods = [
        (
            float(p["duration_ms"]) / 1000.0,
            float(p["bandwidth_kbps"]),
            float(p["latency_ms"]) / 1000.0,
        )
        for p in raw
    ]
    if not periods or any(d <= 0 or k < 0 for d, k, _ in periods):
        raise ValueError("a trace needs periods with positive durations")
    if all(k == 0 for _, k, _ in periods):
        raise ValueError("a trace with no bandwidth at all never delivers a byte")
    return periods


class Throttle:
    """Shapes downloads to a looped trace; with no periods it shapes nothing."""

    def __init__(
        self,
        periods: Sequence[Period] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.periods = list(periods)
        self.clock = clock
        self.sleep = sleep
        self.epoch = clock()
        self.length = sum(d for d, _, _ in self.periods)
        self._busy_until = self.epoch

    @classmethod
    def from_file(cls, path: str | Path) -> Throttle:
        """Return a throttle following the trace in ``path``."""
        return cls(load_trace(path))

    @classmethod
    def unlimited(cls) -> Throttle:
        """Return a throttle that never waits."""
        return cls(())

    @property
    def shaping(self) -> bool:
        """Tell whether a trace is being followed."""
        return bool(self.periods)

    def _period_at(self, t: float) -> tuple[int, float]:
        """Return the period index at trace time ``t`` and the time left in it."""
        t %= self.length
        for i, (duration, _, _) in enumerate(self.periods):
            if t < duration:
                return i, duration - t
            t -= duration
        return 0, self.periods[0][0]

    def transfer_seconds(self, bits: float, at: float) -> float:
        """Return how long ``bits`` take to arrive when they start at trace time ``at``."""
        if not self.periods or bits <= 0:
            return 0.0
        index, left = self._period_at(at)
        spent = 0.0
        while bits > 0:
            kbps = self.periods[index][1]
            can = kbps * 1000.0 * left
            if can >= bits:
                return spent + bits / (kbps * 1000.0)
            bits -= can
            spent += left
            index = (index + 1) % len(self.periods)
            left = self.periods[index][0]
        return spent

    def latency_now(self) -> float:
        """Return the latency of the current period."""
        if not self.periods:
            return 0.0
        index, _ = self._period_at(self.clock() - self.epoch)
        return self.periods[index][2]

    async def request_latency(self) -> float:
        """Wait the current period's latency (a request's round trip); return it."""
        latency = self.latency_now()
        if latency > 0:
            await self.sleep(latency)
        return latency

    async def consume(self, nbytes: int) -> None:
        """Wait until ``nbytes`` more may have arrived over the shaped link."""
        if not self.periods or nbytes <= 0:
            return
        now = self.clock()
        start = max(now, self._busy_until)
        self._busy_until = start + self.transfer_seconds(nbytes * 8.0, start - self.epoch)
        delay = self._busy_until - now
        if delay > 0:
            await self.sleep(delay)
