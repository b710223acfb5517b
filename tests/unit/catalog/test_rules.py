"""Display titles, maturity levels and page arithmetic: what a viewer sees in rows."""

from __future__ import annotations

import pytest

from matinee.services.catalog.domain.rules import (
    check_rating,
    display_title,
    maturity_level,
    max_level,
    page_count,
    page_offset,
    sort_key,
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Matrix, The", "The Matrix"),
        ("Dangerous Minds", "Dangerous Minds"),
        ("Fish Called Wanda, A", "A Fish Called Wanda"),
        ("American Tail, An", "An American Tail"),
        ("Misérables, Les", "Les Misérables"),
        ("Boot, Das (Boat, The)", "Das Boot (The Boat)"),
        ("Avventura, L' (Adventure, The)", "L'Avventura (The Adventure)"),
        ("Ard, al-", "al-Ard"),
        ("Me, Myself and Irene", "Me, Myself and Irene"),
        ("Good, the Bad and the Ugly, The", "The Good, the Bad and the Ugly"),
        ("Cinema Paradiso (Nuovo cinema Paradiso)", "Cinema Paradiso (Nuovo cinema Paradiso)"),
        ("Broken (Title, The", "Broken (Title, The"),
        ("  Heat  ", "Heat"),
    ],
)
def test_source_titles_are_shown_in_their_display_form(raw: str, shown: str) -> None:
    assert display_title(raw) == shown


def test_title_sort_ignores_case_and_a_leading_article() -> None:
    names = ["the Matrix", "Alien", "A Bug's Life", "Zulu", "An American Tail"]
    assert sorted(names, key=sort_key) == [
        "Alien",
        "An American Tail",
        "A Bug's Life",
        "the Matrix",
        "Zulu",
    ]


def test_kids_see_g_and_pg_teens_add_pg13_adults_see_everything() -> None:
    kids, teen, adult = max_level("kids"), max_level("teen"), max_level("adult")
    for rating in ("G", "PG", "TV-Y", "TV-PG"):
        assert maturity_level(rating) <= kids
    for rating in ("PG-13", "TV-14"):
        assert kids < maturity_level(rating) <= teen
    for rating in ("R", "NC-17", "TV-MA", "NR"):
        assert teen < maturity_level(rating) <= adult
    assert max_level(None) == adult


def test_unknown_ratings_and_maturities_are_refused() -> None:
    with pytest.raises(ValueError):
        maturity_level("X")
    with pytest.raises(ValueError):
        max_level("toddler")


def test_movie_ratings_are_for_movies_and_tv_ratings_for_series() -> None:
    check_rating("movie", "PG-13")
    check_rating("series", "TV-MA")
    check_rating("series", "NR")
    with pytest.raises(ValueError, match="not for a movie"):
        check_rating("movie", "TV-MA")
    with pytest.raises(ValueError, match="not for a series"):
        check_rating("series", "R")


def test_page_arithmetic() -> None:
    assert page_offset(1, 20) == 0
    assert page_offset(3, 20) == 40
    assert page_count(0, 20) == 0
    assert page_count(40, 20) == 2
    assert page_count(41, 20) == 3
    with pytest.raises(ValueError):
        page_offset(0, 20)
    with pytest.raises(ValueError):
        page_count(10, 0)
