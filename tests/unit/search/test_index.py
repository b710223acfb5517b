"""The index answers the way a person typing expects: ranking, typos, highlights, facets."""

from __future__ import annotations

import pytest

from matinee.services.search.domain import MATURITY_CEILINGS, TitleIndex
from tests.unit.search.fixtures import TITLES


@pytest.fixture(scope="module")
def index() -> TitleIndex:
    return TitleIndex.build(TITLES)


def titles(hits):
    return [h.title for h in hits]


def test_the_last_word_is_a_prefix(index):
    assert titles(index.suggest("the mat", 10)) == ["The Matrix", "The Matrix Reloaded"]
    assert titles(index.suggest("matrix rel", 10)) == ["The Matrix Reloaded"]


def test_title_starts_rank_above_middle_words_then_popularity(index):
    # Every hit starts with "the": popularity decides.
    assert titles(index.suggest("the", 10)) == [
        "The Matrix", "The Terminator", "The Matrix Reloaded", "The Boat People"
    ]  # fmt: skip
    # "ma": titles that start with it first, then middle words by popularity.
    hits = titles(index.suggest("ma", 10))
    assert hits[:2] == ["Mary Poppins", "Mad Max"]
    assert hits[2:] == ["The Matrix", "Spider-Man", "The Matrix Reloaded"]


def test_typos_follow_the_rule_and_rank_after_exact_matches(index):
    assert titles(index.suggest("matrx", 10)) == ["The Matrix", "The Matrix Reloaded"]
    assert titles(index.suggest("termniator", 10)) == ["The Terminator"]  # swap: one typo
    assert index.suggest("mtrx", 10) == []  # four letters: no typo allowed
    assert index.suggest("marix", 10)[0].typos == 1


def test_folding_finds_punctuation_and_accents(index):
    assert titles(index.suggest("spiderman", 10)) == ["Spider-Man"]
    assert titles(index.suggest("SPIDER MAN", 10)) == ["Spider-Man"]
    assert titles(index.suggest("zatoichi", 10)) == ["Zatôichi"]
    assert titles(index.suggest("oceans", 10)) == ["Ocean's Eleven"]


def test_original_titles_and_cast_find_the_title(index):
    assert titles(index.suggest("boot das", 10)) == ["Das Boot"]
    hit = index.suggest("tom hanks", 10)[0]
    assert (hit.title, hit.matched, hit.spans) == ("Forrest Gump", "cast", ())


def test_highlight_spans_cover_what_matched(index):
    hit = index.suggest("the mat", 1)[0]
    assert [hit.title[s:e] for s, e in hit.spans] == ["The", "Mat"]
    hit = index.suggest("spiderman", 1)[0]
    assert [hit.title[s:e] for s, e in hit.spans] == ["Spider-Man"]
    hit = index.suggest("zatoi", 1)[0]
    assert [hit.title[s:e] for s, e in hit.spans] == ["Zatôi"]


def test_maturity_ceiling_hides_titles_above_it(index):
    kids = MATURITY_CEILINGS["kids"]
    assert titles(index.suggest("ma", 10, max_level=kids)) == ["Mary Poppins"]


def test_search_counts_facets_and_pages(index):
    page = index.search("the", page=1, page_size=2)
    assert page.total == 4
    assert [h.title for h in page.hits] == ["The Matrix", "The Terminator"]
    assert page.facets.genres["Action"] == 3
    assert page.facets.decades == {1980: 2, 1990: 1, 2000: 1}
    second = index.search("the", page=2, page_size=2)
    assert [h.title for h in second.hits] == ["The Matrix Reloaded", "The Boat People"]
    eighties = index.search("the", decade=1980)
    assert [h.title for h in eighties.hits] == ["The Terminator", "The Boat People"]
    # Picking a decade keeps counting every decade, so the other choices stay visible.
    assert eighties.facets.decades == {1980: 2, 1990: 1, 2000: 1}
    assert eighties.facets.genres == {"Action": 1, "Drama": 1, "Sci-Fi": 1}


@pytest.mark.parametrize(
    "query", ["", "   ", "🙂🙂", "\u202e\u0301", "\x00\x1f", "\ud800", "ש", "a" * 200, "'''---"]
)
def test_any_unicode_gives_an_answer(index, query):
    assert isinstance(index.suggest(query, 10), list)
    assert index.search(query).total >= 0


def test_a_space_after_the_last_word_finishes_it(index):
    assert titles(index.suggest("mad", 10)) == ["Mad Max"]
    assert titles(index.suggest("the ", 10))[:1] == ["The Matrix"]
    assert titles(index.suggest("the matrix ", 10)) == ["The Matrix", "The Matrix Reloaded"]
    assert titles(index.suggest("mar ", 10)) == []  # "Mary" is not "mar"


def test_a_word_being_typed_may_carry_a_typo(index):
    # "termna" is one typo from "termin", the start of "terminator".
    assert titles(index.suggest("the termna", 10)) == ["The Terminator"]
