"""The personal hint's formula and the history rows it is built from."""

from __future__ import annotations

import pytest

from matinee.services.search.domain.history import FINISHED_FRACTION, Viewing, advance
from matinee.services.search.domain.model import MAX_GENRE_FACTOR, MAX_TITLE_FACTOR
from matinee.services.search.domain.taste import (
    DAY,
    FINISHED_TITLE_FACTOR,
    TASTE_TITLES,
    Watched,
    recency,
    taste_of,
)

NOW = 1_750_000_000.0
GENRES = {
    1: ("Action", "Sci-Fi"),
    2: ("Action", "Sci-Fi"),
    5: ("Family",),
    8: ("Drama",),
}


def genres_of(title_id: int) -> tuple[str, ...]:
    return GENRES.get(title_id, ())


def test_no_history_is_no_hint():
    taste = taste_of([], genres_of, now=NOW)
    assert not taste and taste.titles == {} and taste.genres == {}


def test_a_title_in_progress_gets_the_strongest_lift_and_a_finished_one_less():
    taste = taste_of(
        [
            Watched(2, watched_s=3600, position_s=3600, last_at=NOW),  # halfway through
            Watched(8, watched_s=8000, position_s=0, last_at=NOW, finished=True),
        ],
        genres_of,
        now=NOW,
    )
    assert taste.titles[2] == pytest.approx(MAX_TITLE_FACTOR)
    assert taste.titles[8] == pytest.approx(FINISHED_TITLE_FACTOR)
    # What users see: the half-watched sequel (500) outranks the original (900) among
    # equal matches, since the factor multiplies popularity.
    assert 500 * taste.titles[2] > 900
    assert 1 not in taste.titles  # a title never started gets no title lift


def test_older_viewing_counts_less_halving_every_thirty_days():
    assert recency(NOW, NOW) == 1.0
    assert recency(NOW - 30 * DAY, NOW) == pytest.approx(0.5)
    assert recency(NOW + 60, NOW) == 1.0  # a clock a little ahead is not a bonus
    taste = taste_of(
        [Watched(1, 600, 600, last_at=NOW - 30 * DAY), Watched(2, 600, 600, last_at=NOW)],
        genres_of,
        now=NOW,
    )
    assert taste.titles[1] == pytest.approx(1 + (MAX_TITLE_FACTOR - 1) / 2)
    assert taste.titles[1] < taste.titles[2]


def test_genres_are_lifted_by_their_share_of_viewing_time():
    taste = taste_of(
        [
            Watched(1, watched_s=3000, last_at=NOW),  # Action, Sci-Fi
            Watched(5, watched_s=1000, last_at=NOW),  # Family
            Watched(999, watched_s=50_000, last_at=NOW),  # not in the index: not counted
        ],
        genres_of,
        now=NOW,
    )
    assert taste.genres["Action"] == pytest.approx(1 + 2 * 0.75)
    assert taste.genres["Sci-Fi"] == pytest.approx(1 + 2 * 0.75)
    assert taste.genres["Family"] == pytest.approx(1 + 2 * 0.25)
    assert "Drama" not in taste.genres  # never watched: no lift
    only = taste_of([Watched(8, watched_s=10, last_at=NOW)], genres_of, now=NOW)
    assert only.genres == {"Drama": MAX_GENRE_FACTOR}


def test_a_title_only_started_lifts_itself_but_no_genre():
    taste = taste_of([Watched(1, last_at=NOW)], genres_of, now=NOW)
    assert taste.titles == {1: pytest.approx(MAX_TITLE_FACTOR)} and taste.genres == {}


def test_recent_genre_time_outweighs_old():
    taste = taste_of(
        [
            Watched(5, watched_s=4000, last_at=NOW - 90 * DAY),  # a lot, long ago (1/8)
            Watched(8, watched_s=1000, last_at=NOW),
        ],
        genres_of,
        now=NOW,
    )
    assert taste.genres["Drama"] > taste.genres["Family"]


def test_the_taste_keeps_the_strongest_titles_and_drops_long_gone_ones():
    history = [Watched(1000 + n, 600, 600, last_at=NOW - n * DAY) for n in range(120)]
    history.append(Watched(7, 600, 600, last_at=NOW - 400 * DAY))
    taste = taste_of(history, genres_of, now=NOW)
    assert sorted(taste.titles) == [1000 + n for n in range(TASTE_TITLES)]  # the most recent
    only_old = taste_of([Watched(7, 600, 600, last_at=NOW - 400 * DAY)], genres_of, now=NOW)
    assert only_old.titles == {}  # a year ago lifts too little to be worth a check


def fact(
    kind: str, at: float, position: float = 0.0, watched: float = 0.0, duration: float = 0.0
) -> Viewing:
    return Viewing(f"e-{at}", "acc", "p1", 2, at, kind == "started", position, watched, duration)


def test_history_rows_add_time_and_follow_the_latest_fact():
    row = advance(None, fact("started", NOW))
    assert row == Watched(2, 0.0, 0.0, NOW, False)
    row = advance(row, fact("stopped", NOW + 100, position=1800, watched=1800))
    assert (row.watched_s, row.position_s, row.last_at, row.finished) == (
        1800,
        1800,
        NOW + 100,
        False,
    )
    row = advance(row, fact("started", NOW + 200, position=1800))  # resumed where it stood
    row = advance(row, fact("stopped", NOW + 300, position=2400, watched=600))
    assert (row.watched_s, row.position_s, row.finished) == (2400, 2400, False)


def test_a_late_fact_only_adds_its_time():
    row = advance(None, fact("stopped", NOW, position=3000, watched=3000))
    late = advance(row, fact("stopped", NOW - 500, position=100, watched=100))
    assert (late.watched_s, late.position_s, late.last_at) == (3100, 3000, NOW)


def test_a_restart_from_zero_after_watching_marks_it_finished_until_a_rewatch_stops_midway():
    row = advance(None, fact("stopped", NOW, position=5900, watched=5900))
    assert not row.finished
    # Playback restarts a title from 0 only when it was watched to (near) the end.
    row = advance(row, fact("started", NOW + 10, position=0))
    assert row.finished and row.position_s == 0
    # Restarted again without getting anywhere: still finished.
    row = advance(row, fact("stopped", NOW + 20, position=0))
    row = advance(row, fact("started", NOW + 30, position=0))
    assert row.finished
    # A rewatch stopped part-way: in progress again.
    row = advance(row, fact("stopped", NOW + 40, position=600, watched=600))
    assert not row.finished


# --- finished, when playback says how long the title is -------------------------------

FILM = 6000.0  # a 100-minute film: finished from 5400 s on


def test_a_stop_at_ninety_percent_of_the_duration_finishes_the_title():
    assert FINISHED_FRACTION * FILM == 5400
    short = advance(None, fact("stopped", NOW, position=5399, watched=5399, duration=FILM))
    assert not short.finished
    there = advance(None, fact("stopped", NOW, position=5400, watched=5400, duration=FILM))
    assert there.finished
    # An expired session reports no watched seconds: the position alone decides.
    lapsed = advance(None, fact("stopped", NOW, position=5900, watched=0, duration=FILM))
    assert lapsed.finished and lapsed.watched_s == 0
    # What the viewer sees: a finished title is lifted as a finished one, not as one to resume.
    taste = taste_of([there], genres_of, now=NOW)
    assert taste.titles[2] == pytest.approx(FINISHED_TITLE_FACTOR)


def test_with_a_duration_a_restart_is_not_mistaken_for_a_finish():
    # Stopped part-way, then started again at 0 (another asset, another device's position):
    # the guess would call it finished; the duration says it is not.
    part_way = advance(None, fact("stopped", NOW, position=1800, watched=1800, duration=FILM))
    row = advance(part_way, fact("started", NOW + 10, position=0, duration=FILM))
    assert not row.finished and row.position_s == 0
    assert advance(part_way, fact("started", NOW + 10, position=0)).finished  # the guess


def test_a_finished_title_stays_finished_through_restarts_until_a_rewatch_stops_part_way():
    row = advance(None, fact("stopped", NOW, position=5950, watched=5950, duration=FILM))
    row = advance(row, fact("started", NOW + 10, position=5950, duration=FILM))  # credits again
    assert row.finished
    row = advance(row, fact("started", NOW + 20, position=0, duration=FILM))
    row = advance(row, fact("stopped", NOW + 30, position=0, duration=FILM))
    assert row.finished and row.position_s == 0
    row = advance(row, fact("stopped", NOW + 40, position=600, watched=600, duration=FILM))
    assert not row.finished
    row = advance(row, fact("stopped", NOW + 50, position=5800, watched=5200, duration=FILM))
    assert row.finished


def test_a_start_with_a_duration_judges_a_stop_that_came_without_one():
    # The stop came from a playback that sent no duration (0): unknown, so in progress.
    row = advance(None, fact("stopped", NOW, position=5900, watched=5900))
    assert not row.finished
    row = advance(row, fact("started", NOW + 10, position=0, duration=FILM))
    assert row.finished
    # Without a duration the old guess still holds, in both directions.
    row = advance(row, fact("stopped", NOW + 20, position=600, watched=600))
    assert not row.finished


def test_a_late_fact_with_a_duration_changes_nothing_but_the_time():
    row = advance(None, fact("stopped", NOW, position=1800, watched=1800, duration=FILM))
    late = advance(row, fact("stopped", NOW - 100, position=5900, watched=300, duration=FILM))
    assert (late.finished, late.position_s, late.watched_s) == (False, 1800, 2100)
