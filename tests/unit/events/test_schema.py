"""Event schemas: subjects, ids, versions and the wire format."""

from __future__ import annotations

from datetime import UTC

import pytest

from matinee.platform.events import Event, UnknownEvent, subject_matches
from matinee.platform.events.schema import Schemas, domain_of


class TitleUpserted(Event):
    type = "matinee.catalog.title_upserted"
    title_id: int


class TitleUpsertedV2(Event):
    type = "matinee.catalog.title_upserted"
    version = 2
    title_id: int
    slug: str


def test_every_event_gets_its_own_id_and_a_utc_timestamp() -> None:
    first, second = TitleUpserted(title_id=1), TitleUpserted(title_id=1)
    assert first.event_id != second.event_id
    assert first.occurred_at.tzinfo is not None
    assert first.occurred_at.utcoffset() == UTC.utcoffset(None)
    assert first.subject == "matinee.catalog.title_upserted"


def test_event_round_trips_through_its_wire_format() -> None:
    sent = TitleUpsertedV2(title_id=7, slug="metropolis")
    schemas = Schemas([TitleUpserted, TitleUpsertedV2])
    assert schemas.decode(sent.type, 2, sent.encode()) == sent


def test_a_consumer_reads_fields_added_by_a_newer_compatible_producer() -> None:
    body = TitleUpsertedV2(title_id=7, slug="x").encode()
    old = Schemas([TitleUpserted]).decode(TitleUpserted.type, 1, body)
    assert isinstance(old, TitleUpserted)
    assert old.title_id == 7


def test_unknown_versions_and_bad_bodies_are_reported_not_guessed() -> None:
    schemas = Schemas([TitleUpserted])
    with pytest.raises(UnknownEvent, match=r"no schema for matinee\.catalog\.title_upserted v3"):
        schemas.decode(TitleUpserted.type, 3, b"{}")
    with pytest.raises(UnknownEvent, match="invalid"):
        schemas.decode(TitleUpserted.type, 1, b'{"title_id": "not a number"}')
    with pytest.raises(UnknownEvent):
        schemas.decode(TitleUpserted.type, 1, b"\xff\xfe")


@pytest.mark.parametrize(
    "subject", ["catalog.title_upserted", "matinee.Catalog.x", "matinee.catalog", "matinee.a.b.c"]
)
def test_schemas_must_name_a_matinee_subject(subject: str) -> None:
    with pytest.raises(ValueError, match=r"matinee\.<domain>\.<event>"):

        class Bad(Event):
            type = subject


def test_two_classes_for_one_version_are_refused() -> None:
    class Clash(Event):
        type = "matinee.catalog.title_upserted"
        title_id: int

    with pytest.raises(ValueError, match="two schemas"):
        Schemas([TitleUpserted, Clash])
    with pytest.raises(ValueError, match="at least one"):
        Schemas([])


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("matinee.catalog.>", "matinee.catalog.title_upserted", True),
        ("matinee.catalog.*", "matinee.catalog.title_upserted", True),
        ("matinee.catalog.title_upserted", "matinee.catalog.title_upserted", True),
        ("matinee.catalog.title_deleted", "matinee.catalog.title_upserted", False),
        ("matinee.users.>", "matinee.catalog.title_upserted", False),
        ("matinee.catalog.>", "matinee.catalog", False),
        ("matinee.*", "matinee.catalog.title_upserted", False),
    ],
)
def test_subject_filters_follow_nats_wildcards(pattern: str, subject: str, matches: bool) -> None:
    assert subject_matches(pattern, subject) is matches


@pytest.mark.parametrize("bad", ["matinee.>", "matinee.*.x", "other.catalog.x", "matinee.cat.>.x"])
def test_a_filter_must_stay_inside_one_domain(bad: str) -> None:
    with pytest.raises(ValueError):
        domain_of(bad)
    assert domain_of("matinee.catalog.>") == "catalog"
