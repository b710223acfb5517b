"""Circuit breakers and the retry budget, both counted over a sliding time window.

Both take ``now`` from the caller (the client's injectable clock), so they hold no
timers, no tasks and no locks: everything runs on the event loop's one thread.

| usage | effect |
|---|---|
| ``b = CircuitBreaker(consecutive_failures=5, cooldown=5.0)`` | closed breaker |
| ``b.available(now)`` | may this instance be chosen? (no side effect) |
| ``b.acquire(now)`` | take a slot; in half-open only one probe gets one |
| ``b.record_success(now)`` / ``b.record_failure(now)`` | feed the outcome back |
| ``budget = RetryBudget(ratio=0.1, min_per_second=10)`` | retries <= 10% of calls + 10/s |
| ``budget.deposit(now)`` per call, ``budget.try_withdraw(now)`` per retry | |
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker", "RetryBudget", "RollingCounts"]


class BreakerState(StrEnum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN

TransitionHook = Callable[[BreakerState, BreakerState], None]


class RollingCounts:
    """Two counters (``a`` and ``b``) summed over the last ``window`` seconds.

    The window is cut into fixed buckets; moving forward clears the buckets that
    fell out, so adding is O(1) and allocates nothing.
    """

    __slots__ = ("_a", "_b", "_head", "_n", "_per_second", "total_a", "total_b")

    def __init__(self, window: float, buckets: int = 10) -> None:
        if window <= 0 or buckets <= 0:
            raise ValueError("window and buckets must be positive")
        self._n = buckets
        self._per_second = buckets / window
        self._a = [0] * buckets
        self._b = [0] * buckets
        self._head = 0
        self.total_a = 0
        self.total_b = 0

    def advance(self, now: float) -> int:
        """Drop buckets older than the window; return the index of the current bucket."""
        tick = int(now * self._per_second)
        head = self._head
        if tick > head:
            n = self._n
            a, b = self._a, self._b
            for step in range(head + 1, head + 1 + min(tick - head, n)):
                i = step % n
                self.total_a -= a[i]
                self.total_b -= b[i]
                a[i] = 0
                b[i] = 0
            self._head = head = tick
        # A clock that steps back (only fakes do) keeps counting into the newest bucket.
        return head % self._n

    def add(self, now: float, a: int, b: int) -> None:
        """Add ``a`` and ``b`` to the current bucket."""
        i = self.advance(now)
        self._a[i] += a
        self._b[i] += b
        self.total_a += a
        self.total_b += b

    def clear(self) -> None:
        """Forget everything counted so far."""
        for i in range(self._n):
            self._a[i] = 0
            self._b[i] = 0
        self.total_a = 0
        self.total_b = 0


class CircuitBreaker:
    """Closed -> open on too many failures -> half-open after a cool-down -> one probe decides.

    Opens on ``consecutive_failures`` in a row, or when at least ``min_calls`` calls in
    the window failed at ``failure_rate`` or more. A failed probe doubles the cool-down
    (up to ``max_cooldown``) so a dead instance is probed less and less often.
    """

    __slots__ = (
        "_base_cooldown",
        "_consecutive",
        "_cooldown",
        "_failure_rate",
        "_max_consecutive",
        "_max_cooldown",
        "_min_calls",
        "_on_transition",
        "_open_until",
        "_probing",
        "_state",
        "_window",
    )

    def __init__(
        self,
        *,
        consecutive_failures: int = 5,
        failure_rate: float = 0.5,
        min_calls: int = 20,
        window: float = 10.0,
        cooldown: float = 5.0,
        max_cooldown: float = 60.0,
        on_transition: TransitionHook | None = None,
    ) -> None:
        self._max_consecutive = consecutive_failures
        self._failure_rate = failure_rate
        self._min_calls = min_calls
        self._window = RollingCounts(window)  # a: calls, b: failures
        self._base_cooldown = self._cooldown = cooldown
        self._max_cooldown = max(cooldown, max_cooldown)
        self._on_transition = on_transition
        self._state = _CLOSED
        self._consecutive = 0
        self._open_until = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """Return the current state (an open breaker past its cool-down still says open)."""
        return self._state

    def available(self, now: float) -> bool:
        """Tell whether :meth:`acquire` would succeed now, without changing anything."""
        state = self._state
        if state is _CLOSED:
            return True
        if state is _OPEN:
            return now >= self._open_until
        return not self._probing

    def acquire(self, now: float) -> bool:
        """Take permission for one call; past the cool-down, the first caller becomes the probe."""
        state = self._state
        if state is _CLOSED:
            return True
        if state is _OPEN:
            if now < self._open_until:
                return False
            self._set(_HALF_OPEN)
        if self._probing:
            return False
        self._probing = True
        return True

    def release(self) -> None:
        """Give back a probe slot whose call ended without an outcome (cancelled)."""
        self._probing = False

    def record_success(self, now: float) -> None:
        """Count a call that got a usable answer."""
        state = self._state
        if state is _CLOSED:
            self._consecutive = 0
            self._window.add(now, 1, 0)
        elif state is _HALF_OPEN:
            self._probing = False
            self._cooldown = self._base_cooldown
            self._consecutive = 0
            self._window.clear()
            self._set(_CLOSED)
        # OPEN: a late answer to a call started before the breaker opened changes nothing.

    def record_failure(self, now: float) -> None:
        """Count a failed call; may open the breaker."""
        state = self._state
        if state is _CLOSED:
            self._consecutive += 1
            window = self._window
            window.add(now, 1, 1)
            if self._consecutive >= self._max_consecutive or (
                window.total_a >= self._min_calls
                and window.total_b >= self._failure_rate * window.total_a
            ):
                self._trip(now)
        elif state is _HALF_OPEN:
            self._probing = False
            self._cooldown = min(self._cooldown * 2, self._max_cooldown)
            self._trip(now)

    def _trip(self, now: float) -> None:
        self._open_until = now + self._cooldown
        self._set(_OPEN)

    def _set(self, state: BreakerState) -> None:
        old, self._state = self._state, state
        if self._on_transition is not None:
            self._on_transition(old, state)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self._state}>"


class RetryBudget:
    """Allows retries up to ``ratio`` of the calls in the last ``window`` seconds, plus a floor.

    Every call deposits one token and every retry withdraws one; ``min_per_second``
    retries are always affordable so a quiet client can still retry. Under sustained
    failure the extra load a retrying client adds is therefore capped at about
    ``ratio`` (10% by default), instead of multiplying by the number of attempts.
    """

    __slots__ = ("_counts", "_ratio", "_reserve")

    def __init__(
        self, ratio: float = 0.1, min_per_second: float = 10.0, window: float = 10.0
    ) -> None:
        if ratio < 0 or min_per_second < 0:
            raise ValueError("ratio and min_per_second must not be negative")
        self._ratio = ratio
        self._reserve = min_per_second * window
        self._counts = RollingCounts(window)  # a: calls, b: retries

    def deposit(self, now: float) -> None:
        """Record one call."""
        self._counts.add(now, 1, 0)

    def try_withdraw(self, now: float) -> bool:
        """Take one retry if the budget allows it; return whether it did."""
        counts = self._counts
        counts.advance(now)
        if counts.total_b + 1 <= self._ratio * counts.total_a + self._reserve:
            counts.add(now, 0, 1)
            return True
        return False

    def balance(self, now: float) -> float:
        """Return how many retries could be taken right now."""
        counts = self._counts
        counts.advance(now)
        return max(0.0, self._ratio * counts.total_a + self._reserve - counts.total_b)
