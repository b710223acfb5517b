"""The Sabre-compatible simulator's accounting on tiny traces worked out by hand."""

from __future__ import annotations

import pytest

from abr.sim import Movie, Network, Period, simulate
from matinee.services.playback.domain.abr import AbrBase, AbrInputs, DownloadProgress

# Three 1 s segments: 100 kbit at rung 0, 200 kbit at rung 1.
MOVIE = Movie(1000.0, (100.0, 200.0), ((1e5, 2e5), (1e5, 2e5), (1e5, 2e5)))


class Fixed(AbrBase):
    """Always the same rung; records the waits and downloads the player reports."""

    name = "fixed"

    def __init__(self, rung: int = 0) -> None:
        self.rung = rung
        self.waits: list[float] = []
        self.seen: list[AbrInputs] = []

    def choose(self, inputs: AbrInputs) -> int:
        self.seen.append(inputs)
        return self.rung

    def on_wait(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_startup_stalls_and_time_averages_add_up() -> None:
    # 100 kbps, 100 ms latency: each 100 kbit segment takes 0.1 + 1.0 s.
    result = simulate(Fixed(), MOVIE, [Period(10_000, 100, 100)])
    assert result.startup_s == pytest.approx(1.1)
    # Segments 1 and 2 each arrive 0.1 s after the previous one has played out.
    assert result.rebuffer_s == pytest.approx(0.2)
    assert result.rebuffer_events == 2
    assert result.wall_s == pytest.approx(1.1 + 1.1 + 1.1 + 1.0)
    assert result.rebuffer_ratio == pytest.approx(0.2 / 4.3)
    assert result.bitrate_kbps == pytest.approx(300 * 1000 / 4300)
    assert result.change_kbps == 0 and result.switches == 0


def test_a_short_trace_loops_and_latency_spans_periods() -> None:
    looped = simulate(Fixed(), MOVIE, [Period(50, 100, 100), Period(450, 100, 100)])
    assert looped.startup_s == pytest.approx(1.1)
    assert looped.rebuffer_s == pytest.approx(0.2)


def test_latency_is_paid_per_segment_even_on_a_fast_link() -> None:
    result = simulate(Fixed(), MOVIE, [Period(1000, 1_000_000, 1500)])
    # Each request waits 1.5 s and the bits take 0.1 ms: 1 s segments stall 0.5 s each.
    assert result.startup_s == pytest.approx(1.5, abs=1e-3)
    assert result.rebuffer_s == pytest.approx(1.0, abs=1e-3)


def test_full_buffer_makes_the_player_wait_and_tells_the_algorithm() -> None:
    algo = Fixed()
    result = simulate(algo, MOVIE, [Period(1000, 10_000, 0)], buffer_cap_ms=2000)
    # 10 ms per segment: after two the buffer holds 1.99 s; the third waits 0.99 s.
    assert algo.waits == [pytest.approx(0.99)]
    assert result.rebuffer_s == 0
    assert result.wall_s == pytest.approx(0.01 + 3.0)


def test_switches_are_counted_in_kbps_per_segment_of_wall_time() -> None:
    class UpOnce(Fixed):
        def choose(self, inputs: AbrInputs) -> int:
            return 0 if inputs.segment_index == 0 else 1

    result = simulate(UpOnce(), MOVIE, [Period(1000, 1_000_000, 0)])
    assert result.switches == 1
    assert result.change_kbps == pytest.approx(100 * 1000 / (result.wall_s * 1000))


def test_the_algorithm_sees_history_sizes_and_lookahead() -> None:
    algo = Fixed()
    simulate(algo, MOVIE, [Period(10_000, 100, 100)])
    first, second = algo.seen[0], algo.seen[1]
    assert first.throughput == () and first.last_rung is None and first.buffer_s == 0
    assert list(first.next_segment_bits) == [1e5, 2e5]
    assert len(first.upcoming_segment_bits) == 2
    sample = second.throughput[0]
    assert sample.seconds == pytest.approx(1.0) and sample.latency_s == pytest.approx(0.1)
    assert sample.kbps == pytest.approx(100)


def test_an_abandoned_download_is_discarded_and_the_segment_fetched_again() -> None:
    class GiveUpOnce(Fixed):
        def __init__(self) -> None:
            super().__init__(rung=1)
            self.abandoned = False

        def abandon(self, progress: DownloadProgress) -> int | None:
            if not self.abandoned and progress.rung == 1:
                self.abandoned = True
                self.rung = 0
                return 0
            return None

    result = simulate(GiveUpOnce(), MOVIE, [Period(10_000, 100, 100)])
    assert result.abandoned == 1
    # Every segment still plays once: the abandoned one is not in the buffer.
    assert result.wall_s > result.startup_s + 3.0


def test_a_trace_without_bandwidth_is_refused() -> None:
    with pytest.raises(ValueError, match="bandwidth"):
        Network([Period(1000, 0, 100)])


def test_a_choice_outside_the_ladder_is_an_error() -> None:
    with pytest.raises(ValueError, match="rung 5"):
        simulate(Fixed(rung=5), MOVIE, [Period(1000, 100, 0)])
