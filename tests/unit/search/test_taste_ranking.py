"""RANKING CONTRACT of the personal hint: the index applying a Taste (issue 5).

The app side (history, ``taste_of``, the cache, the routes) builds the ``Taste``; the
index applies it. These tests state what a viewer notices once ``domain/index.py`` ranks
with the taste, and are expected to fail until it does: run them when the ranking lands.
"""

from __future__ import annotations

from matinee.services.search.domain import LiveIndex, TitleDoc
from matinee.services.search.domain.hints import genres_in
from matinee.services.search.domain.taste import Watched, taste_of
from tests.unit.search.fixtures import TITLES

NOW = 1_750_000_000.0


def titles(hits):
    return [h.title for h in hits]


def taste_for(view, history):
    return taste_of(history, genres_in(view), now=NOW)


def test_a_title_i_am_halfway_through_comes_before_an_equally_matching_more_popular_one():
    view = LiveIndex(TITLES).view
    assert titles(view.suggest("matr", 2)) == ["The Matrix", "The Matrix Reloaded"]
    taste = taste_for(view, [Watched(2, watched_s=3600, position_s=3600, last_at=NOW)])
    assert titles(view.suggest("matr", 2, taste=taste)) == ["The Matrix Reloaded", "The Matrix"]
    assert titles(view.search("matr", taste=taste).hits)[:2] == [
        "The Matrix Reloaded",
        "The Matrix",
    ]


def test_a_genre_i_watch_lifts_its_titles_among_equals():
    view = LiveIndex(TITLES).view
    plain = titles(view.suggest("ma", 10))
    assert plain.index("Mary Poppins") < plain.index("Mad Max")  # 300 votes against 200
    # Hours of action films (finished, a while ago: no title lift for Mad Max itself).
    history = [Watched(6, watched_s=20_000, last_at=NOW - 60 * 86_400, finished=True)]
    lifted = titles(view.suggest("ma", 10, taste=taste_for(view, history)))
    assert lifted.index("Mad Max") < lifted.index("Mary Poppins")


def test_nothing_beats_fewer_typos():
    docs = [
        TitleDoc(101, "Heaven", 2000, 10.0, ("Drama",)),
        TitleDoc(102, "Haven", 2001, 1000.0, ("Thriller",)),
    ]
    view = LiveIndex(docs).view
    # Halfway through "Haven", and a thriller watcher: still, "heaven" has no typo.
    history = [Watched(102, watched_s=3000, position_s=3000, last_at=NOW)]
    taste = taste_for(view, history)
    assert titles(view.suggest("heaven", 5, taste=taste)) == ["Heaven", "Haven"]


def test_the_exact_title_stays_first():
    view = LiveIndex(TITLES).view
    taste = taste_for(view, [Watched(2, watched_s=3600, position_s=3600, last_at=NOW)])
    assert titles(view.suggest("the matrix", 2, taste=taste))[0] == "The Matrix"
