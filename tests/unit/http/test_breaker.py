"""CircuitBreaker, RetryBudget and their sliding window, on a hand-driven clock."""

from __future__ import annotations

from matinee.platform.http import BreakerState, CircuitBreaker, RetryBudget
from matinee.platform.http.breaker import RollingCounts


def test_window_forgets_what_is_older_than_the_window() -> None:
    w = RollingCounts(10.0, buckets=10)
    w.add(100.0, 5, 1)
    w.add(104.0, 3, 3)
    assert (w.total_a, w.total_b) == (8, 4)
    w.advance(110.5)
    assert (w.total_a, w.total_b) == (3, 3)
    w.advance(500.0)
    assert (w.total_a, w.total_b) == (0, 0)


def test_window_tolerates_a_clock_that_steps_back() -> None:
    w = RollingCounts(10.0)
    w.add(100.0, 1, 0)
    w.add(90.0, 1, 0)
    assert w.total_a == 2


def test_breaker_opens_after_consecutive_failures_and_success_resets_the_streak() -> None:
    b = CircuitBreaker(consecutive_failures=3, min_calls=1000)
    for _ in range(2):
        b.record_failure(0.0)
    b.record_success(0.0)
    for _ in range(2):
        b.record_failure(0.0)
    assert b.state is BreakerState.CLOSED
    b.record_failure(0.0)
    assert b.state is BreakerState.OPEN
    assert not b.available(1.0) and not b.acquire(1.0)


def test_breaker_half_open_allows_one_probe_and_reports_transitions() -> None:
    seen: list[tuple[str, str]] = []
    b = CircuitBreaker(
        consecutive_failures=1, cooldown=5.0, on_transition=lambda o, n: seen.append((o, n))
    )
    b.record_failure(10.0)
    assert b.available(15.0)
    assert b.acquire(15.0)
    assert b.state is BreakerState.HALF_OPEN
    assert not b.available(15.0) and not b.acquire(15.0)
    b.record_success(15.1)
    assert b.state is BreakerState.CLOSED
    assert seen == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_released_probe_can_be_taken_again() -> None:
    b = CircuitBreaker(consecutive_failures=1, cooldown=1.0)
    b.record_failure(0.0)
    assert b.acquire(2.0)
    b.release()
    assert b.acquire(2.0)


def test_failed_probes_back_off_up_to_the_maximum() -> None:
    b = CircuitBreaker(consecutive_failures=1, cooldown=1.0, max_cooldown=4.0)
    now = 0.0
    b.record_failure(now)
    waits = []
    for _ in range(5):
        wait = 0.0
        while not b.acquire(now + wait):
            wait += 0.5
        waits.append(wait)
        now += wait
        b.record_failure(now)
    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_breaker_opens_on_failure_rate_once_enough_calls_were_seen() -> None:
    b = CircuitBreaker(consecutive_failures=1000, failure_rate=0.5, min_calls=10, window=10.0)
    for i in range(9):
        (b.record_failure if i % 2 else b.record_success)(float(i) / 10)
    assert b.state is BreakerState.CLOSED  # 4 of 9: too few calls and under the rate
    b.record_failure(1.0)
    assert b.state is BreakerState.OPEN  # 5 of 10


def test_old_failures_age_out_of_the_rate() -> None:
    b = CircuitBreaker(consecutive_failures=1000, failure_rate=0.5, min_calls=10, window=10.0)
    for _ in range(9):
        b.record_failure(0.0)
    b.record_success(0.0)
    for i in range(20):
        b.record_success(30.0 + i / 10)
    b.record_failure(33.0)
    assert b.state is BreakerState.CLOSED


def test_budget_allows_about_ratio_of_calls() -> None:
    budget = RetryBudget(ratio=0.1, min_per_second=0.0, window=10.0)
    allowed = 0
    for i in range(1000):
        now = i * 0.005
        budget.deposit(now)
        allowed += budget.try_withdraw(now)
    assert 95 <= allowed <= 100


def test_budget_floor_allows_a_few_retries_per_second() -> None:
    budget = RetryBudget(ratio=0.1, min_per_second=2.0, window=10.0)
    assert sum(budget.try_withdraw(0.0) for _ in range(50)) == 20
    assert budget.balance(0.0) == 0
    assert budget.try_withdraw(11.0)  # the window moved on


def test_budget_with_nothing_allows_nothing() -> None:
    budget = RetryBudget(ratio=0.0, min_per_second=0.0)
    budget.deposit(0.0)
    assert not budget.try_withdraw(0.0)
