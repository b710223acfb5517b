"""A small catalog shared by the search unit tests."""

from __future__ import annotations

from matinee.services.search.domain import TitleDoc

TITLES = [
    TitleDoc(1, "The Matrix", 1999, 900.0, ("Action", "Sci-Fi"), maturity_rating="R"),
    TitleDoc(2, "The Matrix Reloaded", 2003, 500.0, ("Action", "Sci-Fi"), maturity_rating="R"),
    TitleDoc(3, "Spider-Man", 2002, 800.0, ("Action",), maturity_rating="PG-13"),
    TitleDoc(4, "Zatôichi", 2003, 100.0, ("Action", "Drama"), maturity_rating="R"),
    TitleDoc(5, "Mary Poppins", 1964, 300.0, ("Family",), maturity_rating="G"),
    TitleDoc(6, "The Terminator", 1984, 700.0, ("Action", "Sci-Fi"), maturity_rating="R"),
    TitleDoc(7, "Ocean's Eleven", 2001, 600.0, ("Crime",), maturity_rating="PG-13"),
    TitleDoc(8, "Forrest Gump", 1994, 850.0, ("Drama",), cast=("Tom Hanks",)),
    TitleDoc(9, "Mad Max", 1979, 200.0, ("Action",), maturity_rating="R"),
    TitleDoc(10, "Das Boot", 1981, 150.0, ("War",), original_title="Boot, Das"),
    TitleDoc(11, "The Boat People", 1982, 10.0, ("Drama",)),
]
