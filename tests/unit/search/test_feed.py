"""Reading catalog events: today's fields, newer optional ones, and bodies nobody can read."""

from __future__ import annotations

import orjson

from matinee.services.catalog.events import TitleUpserted
from matinee.services.search.storage import parse_title


def test_reads_the_catalog_event_and_shows_the_display_title():
    doc = parse_title(TitleUpserted(title_id=603, name="Matrix, The", year=1999).encode())
    assert doc is not None and (doc.id, doc.title, doc.year) == (603, "The Matrix", 1999)


def test_newer_fields_are_used_and_unknown_ones_ignored():
    body = orjson.dumps(
        {
            "title_id": 7,
            "name": "Das Boot",
            "original_title": "Boot, Das",
            "cast": ["Jürgen Prochnow", {"name": "Herbert Grönemeyer"}],
            "maturity_rating": "R",
            "a_field_from_the_future": {"x": 1},
        }
    )
    doc = parse_title(body)
    assert doc is not None
    assert doc.original_title == "Boot, Das"
    assert doc.cast == ("Jürgen Prochnow", "Herbert Grönemeyer")
    assert doc.maturity_rating == "R"


def test_an_unreadable_body_is_skipped_not_fatal():
    assert parse_title(b"not json") is None
    assert parse_title(b'{"name": "no id"}') is None
