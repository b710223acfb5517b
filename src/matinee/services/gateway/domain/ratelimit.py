"""Token buckets keyed by client (an IP, an account): cheap enough for every request.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; a request
takes one. Buckets are two floats in a dict; full ones are dropped when the dict
grows, so memory follows the number of recently active clients.
"""

from __future__ import annotations

__all__ = ["TokenBuckets"]


class TokenBuckets:
    """Per-key token buckets with one rate and burst."""

    __slots__ = ("_buckets", "_max_keys", "burst", "rate")

    def __init__(self, rate: float, burst: float, *, max_keys: int = 100_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self._max_keys = max_keys
        self._buckets: dict[object, list[float]] = {}

    def take(self, key: object, now: float) -> float:
        """Take a token for ``key``; return 0.0, or the seconds to wait for the next one."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._sweep(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def _sweep(self, now: float) -> None:
        full_after = self.burst / self.rate
        stale = [k for k, (_, last) in self._buckets.items() if now - last >= full_after]
        for key in stale:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            # Still full of active clients: forget the oldest half rather than grow.
            for key in list(self._buckets)[: self._max_keys // 2]:
                del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
