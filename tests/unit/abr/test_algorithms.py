"""Each ABR algorithm's characteristic behaviour on small synthetic inputs."""

from __future__ import annotations

import random

import pytest

from matinee.services.playback.domain.abr import (
    ALGORITHMS,
    AbrInputs,
    Bba,
    Bola,
    BolaE,
    DownloadProgress,
    MatineeAbr,
    RobustMpc,
    ThroughputRule,
    ThroughputSample,
    create,
    plan_first_rung,
)

LADDER = (230.0, 331.0, 477.0, 688.0, 991.0, 1427.0, 2056.0, 2962.0, 5027.0, 6000.0)
SEG = 3.0


def steady(kbps: float, n: int = 8, latency_s: float = 0.0) -> list[ThroughputSample]:
    """Return ``n`` identical samples of one segment-sized transfer at ``kbps``."""
    return [ThroughputSample(kbps * 1000 * SEG, SEG, latency_s) for _ in range(n)]


def inputs(
    buffer_s: float,
    samples: list[ThroughputSample],
    *,
    last: int | None = None,
    ladder: tuple[float, ...] = LADDER,
    index: int = 20,
) -> AbrInputs:
    return AbrInputs(
        buffer_s=buffer_s,
        segment_duration_s=SEG,
        bitrates_kbps=ladder,
        next_segment_bits=[b * 1000 * SEG for b in ladder],
        throughput=samples,
        last_rung=last,
        segment_index=index,
        segments_total=200,
    )


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_algorithm_starts_at_the_lowest_rung(name: str) -> None:
    assert create(name).choose(inputs(0.0, [], index=0)) == 0


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_rungs_are_always_valid_whatever_the_input(name: str) -> None:
    rng = random.Random(7)
    algo = create(name)
    for _ in range(300):
        ladder = tuple(sorted(rng.uniform(50, 8000) for _ in range(rng.randint(1, 10))))
        samples = [
            ThroughputSample(rng.choice([0.0, rng.uniform(0, 2e7)]), rng.choice([0.0, 3.0]))
            for _ in range(rng.randint(0, 6))
        ]
        last = rng.choice([None, 0, len(ladder) - 1])
        chosen = algo.choose(
            inputs(rng.choice([0.0, 1.5, 12.0, 40.0]), samples, last=last, ladder=ladder)
        )
        assert 0 <= chosen < len(ladder)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_nobody_picks_what_neither_buffer_nor_network_sustains(name: str) -> None:
    algo = create(name)
    algo.choose(inputs(0.0, [], index=0))
    rung = algo.choose(inputs(1.0, steady(300.0, n=1, latency_s=0.1), last=0, index=1))
    assert LADDER[rung] <= 300.0


def test_unknown_algorithm_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match="robustmpc"):
        create("nope")


def test_throughput_rule_keeps_a_ten_percent_margin() -> None:
    ladder = (200.0, 500.0, 950.0, 1200.0)
    rule = ThroughputRule()
    # 1000 kbps would fit 950, but 0.9 x 1000 does not.
    assert rule.choose(inputs(20.0, steady(1000.0), ladder=ladder)) == 1
    rule = ThroughputRule()
    assert rule.choose(inputs(20.0, steady(1100.0), ladder=ladder)) == 2


def test_throughput_rule_fetches_only_what_the_buffer_covers() -> None:
    # Plenty of throughput, but one second of buffer cannot cover a 3 s segment of 2962 kbps.
    assert ThroughputRule().choose(inputs(1.0, steady(5000.0))) < 7


def test_bba_maps_reservoir_cushion_and_top() -> None:
    bba = Bba(reservoir_s=5.0, cushion_s=15.0)
    assert bba.choose(inputs(4.0, [], last=5)) == 0
    assert bba.choose(inputs(21.0, [], last=0)) == len(LADDER) - 1
    # Half-way through the cushion the mapped rate is (230 + 6000) / 2 = 3115 kbps.
    assert LADDER[bba.choose(inputs(12.5, [], last=0))] == 2962.0
    # Hysteresis: a mapped rate between the neighbours of the last rung keeps it.
    assert bba.choose(inputs(12.5, [], last=8)) == 8


def test_bola_climbs_with_the_buffer() -> None:
    rungs = []
    for level in (0.0, 4.0, 8.0, 12.0, 16.0, 20.0):
        rungs.append(Bola().choose(inputs(level, steady(10_000.0), last=9)))
    assert rungs == sorted(rungs)
    assert rungs[0] == 0
    assert rungs[-1] >= 8


def test_bola_utility_threshold_between_two_rungs() -> None:
    # Two rungs: BOLA switches up once buffer passes V * (gamma p + u1 * b0 / (b1 - b0) ...).
    ladder = (1000.0, 2000.0)
    picks = [
        Bola().choose(inputs(level / 10, steady(10_000.0), last=1, ladder=ladder))
        for level in range(0, 220)
    ]
    switch = picks.index(1)
    assert switch > 0 and all(p == 1 for p in picks[switch:])


def test_bola_caps_an_up_switch_one_rung_above_the_throughput() -> None:
    rung = Bola().choose(inputs(20.0, steady(700.0), last=0))
    assert rung == 3 + 1  # 688 kbps sustained, one above allowed


def test_bola_e_starts_at_the_throughput_rung_then_paces_with_its_placeholder() -> None:
    algo = BolaE()
    assert algo.choose(inputs(0.0, [], index=0)) == 0
    start = algo.choose(inputs(3.0, steady(1500.0, n=1), last=0, index=1))
    assert LADDER[start] <= 1500.0 and start > 0
    assert algo.placeholder_s > 0
    before = algo.placeholder_s
    algo.on_wait(2.0)
    assert algo.placeholder_s == before + 2.0
    algo.reset()
    assert algo.placeholder_s == 0 and algo.choose(inputs(0.0, [], index=0)) == 0


def test_robust_mpc_picks_lower_when_its_forecasts_were_wrong() -> None:
    calm = steady(2000.0, n=10)
    burned = steady(8000.0, n=5) + steady(2000.0, n=5)  # same last five, big past errors
    assert RobustMpc().choose(inputs(10.0, burned, last=5)) < RobustMpc().choose(
        inputs(10.0, calm, last=5)
    )


def test_planner_avoids_stalls_and_needless_switches() -> None:
    # 1000 kbps with 2 s of buffer: a 2962 kbps segment would stall; it stays low.
    assert LADDER[plan_first_rung(inputs(2.0, [], last=0), 1000.0, 0.0)] <= 1000.0
    # With 20 s buffered and a fast link it goes for the top.
    assert plan_first_rung(inputs(20.0, [], last=9), 20_000.0, 0.0) == 9


@pytest.mark.parametrize("algo", [RobustMpc(), MatineeAbr()])
def test_planners_use_only_what_the_forecast_sustains_on_a_steady_link(algo) -> None:
    rung = algo.choose(inputs(6.0, steady(1500.0), last=4))
    assert LADDER[rung] <= 1500.0


def test_matinee_is_more_careful_with_an_empty_buffer_than_a_full_one() -> None:
    link = steady(2500.0)
    low = MatineeAbr().choose(inputs(1.0, link, last=5))
    high = MatineeAbr().choose(inputs(20.0, link, last=5))
    assert low <= high


def test_matinee_abandons_a_download_that_would_stall_when_the_lowest_rung_would_not() -> None:
    algo = MatineeAbr()
    algo.choose(inputs(4.0, steady(3000.0), last=6))
    # 6 Mbit segment, 0.3 Mbit arrived in 1 s: 19 s to go with 3 s of buffer.
    stuck = DownloadProgress(
        rung=6, size_bits=6e6, downloaded_bits=3e5, elapsed_s=1.1, latency_s=0.1, buffer_s=3.0
    )
    assert algo.abandon(stuck) == 0
    # The next decision trusts the rate the abandoned download saw, not the old history.
    assert algo.choose(inputs(3.0, steady(3000.0), last=6)) <= 1
    nearly_done = stuck._replace(downloaded_bits=5.8e6)
    assert algo.abandon(nearly_done) is None
