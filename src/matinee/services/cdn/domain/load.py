"""A node's load as steering sees it: requests in flight and bytes per second served.

Counting costs an addition on the hot path; the rate comes from samples of the
running total taken once a second.
"""

from __future__ import annotations

from collections import deque

__all__ = ["LoadMeter"]


class LoadMeter:
    """Requests in flight and a moving bytes-per-second rate."""

    def __init__(self, window: int = 5) -> None:
        self.active = 0
        self.bytes_total = 0
        self.requests_total = 0
        self._samples: deque[tuple[float, int]] = deque(maxlen=window + 1)

    def begin(self) -> None:
        """Count a request that started."""
        self.active += 1
        self.requests_total += 1

    def end(self, sent: int) -> None:
        """Count a request that ended after sending ``sent`` body bytes."""
        self.active -= 1
        self.bytes_total += sent

    def sample(self, now: float) -> None:
        """Record the running byte total at ``now`` (call about once a second)."""
        self._samples.append((now, self.bytes_total))

    def bytes_per_s(self) -> float:
        """Return the rate over the sampled window (0 before two samples)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
