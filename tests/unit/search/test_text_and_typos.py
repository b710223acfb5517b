"""Folding, tokenising and the typo rule: what a person typing notices."""

from __future__ import annotations

import pytest

from matinee.services.search.domain import display_title, distance, fold_words, typo_budget
from matinee.services.search.domain.text import joined_words, word_spans


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Spider-Man: Homecoming", ["spider", "man", "homecoming"]),
        ("Zatôichi", ["zatoichi"]),
        ("Ocean's Eleven", ["oceans", "eleven"]),
        ("E.T. the Extra-Terrestrial", ["et", "the", "extra", "terrestrial"]),
        ("AMÉLIE", ["amelie"]),
        ("Straße", ["strasse"]),
        ("Crouching Tiger 🐯 Hidden", ["crouching", "tiger", "hidden"]),
        ("e\u0301te\u0301", ["ete"]),  # combining accents
        ("שלום עולם", ["שלום", "עולם"]),  # right-to-left words stay words
        ("a\x00b\x07c", ["a", "b", "c"]),  # control characters separate
        ("", []),
    ],
)
def test_folding_drops_case_accents_and_punctuation(text, words):
    assert fold_words(text) == words


def test_hyphenated_words_are_also_indexed_joined():
    assert joined_words("Spider-Man 2") == ["spiderman"]
    assert joined_words("The Matrix") == []


def test_trailing_articles_move_to_the_front():
    assert display_title("Matrix, The") == "The Matrix"
    assert display_title("Avventura, L'") == "L'Avventura"
    assert display_title("Boot, Das (1981)") == "Das Boot (1981)"
    assert display_title("Crouching Tiger, Hidden Dragon") == "Crouching Tiger, Hidden Dragon"


def test_word_spans_point_into_the_display_title():
    title = "Ocean's Eleven"
    assert word_spans(title) == (("oceans", 0, 7), ("eleven", 8, 14))


@pytest.mark.parametrize(
    ("word", "budget"),
    [("matr", 0), ("matrx", 1), ("godfathr", 1), ("terminatr", 2), ("", 0)],
)
def test_typo_budget_follows_the_meilisearch_rule(word, budget):
    assert typo_budget(word) == budget


def test_distance_counts_a_swap_as_one_typo():
    assert distance("matirx", "matrix", 1) == 1
    assert distance("matrix", "matrix", 2) == 0
    assert distance("godfathr", "godfather", 1) == 1
    assert distance("abcdef", "uvwxyz", 2) == 3
