"""Event schemas: typed, versioned facts published as ``matinee.<domain>.<event>``.

An event class names its subject and schema version as class variables; every
instance carries an ``event_id`` (the dedup key for publisher and consumers) and
``occurred_at``. A breaking change is a new class with ``version`` bumped, and a
consumer lists every version it understands.

| usage | meaning |
|---|---|
| ``class TitleUpserted(Event): type = "matinee.catalog.title_upserted"; title_id: int`` | v1 |
| ``TitleUpserted(title_id=7)`` | a fact with a fresh event id and timestamp |
| ``Schemas([TitleUpserted, TitleUpsertedV2]).decode(type, version, body)`` | bytes -> event |
| ``subject_matches("matinee.catalog.>", "matinee.catalog.title_upserted")`` | NATS wildcards |
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Event",
    "Schemas",
    "UnknownEvent",
    "domain_of",
    "subject_matches",
    "validate_subject",
]

_SUBJECT = re.compile(r"^matinee\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_FILTER_TOKEN = re.compile(r"^([a-z][a-z0-9_]*|\*|>)$")


def _new_event_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every event schema; subclasses set ``type`` and ``version``."""

    # Unknown fields are ignored so a consumer can read a producer's compatible additions.
    model_config = ConfigDict(frozen=True, extra="ignore")

    type: ClassVar[str] = ""
    version: ClassVar[int] = 1

    event_id: str = Field(default_factory=_new_event_id, min_length=1, max_length=100)
    occurred_at: datetime = Field(default_factory=_now)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Abstract intermediate classes may leave ``type`` empty; concrete ones must be valid.
        if cls.type:
            validate_subject(cls.type)
            if cls.version < 1:
                raise ValueError(f"{cls.__name__}.version must be >= 1")

    @property
    def subject(self) -> str:
        """Return the subject this event is published on."""
        return type(self).type

    def encode(self) -> bytes:
        """Return the JSON body sent on the wire."""
        return self.model_dump_json().encode()


class UnknownEvent(ValueError):
    """A message whose type or version no listed schema understands, or whose body is invalid."""


class Schemas:
    """The event classes a consumer understands, keyed by (type, version)."""

    def __init__(self, classes: Iterable[type[Event]]) -> None:
        self._by_key: dict[tuple[str, int], type[Event]] = {}
        for cls in classes:
            if not cls.type:
                raise ValueError(f"{cls.__name__} has no type")
            key = (cls.type, cls.version)
            if key in self._by_key and self._by_key[key] is not cls:
                raise ValueError(f"two schemas for {cls.type} v{cls.version}")
            self._by_key[key] = cls
        if not self._by_key:
            raise ValueError("a subscription needs at least one event schema")

    def __contains__(self, key: tuple[str, int]) -> bool:
        return key in self._by_key

    def decode(self, event_type: str, version: int, body: bytes) -> Event:
        """Return the event for a message; raise :class:`UnknownEvent` if it cannot be read."""
        cls = self._by_key.get((event_type, version))
        if cls is None:
            raise UnknownEvent(f"no schema for {event_type} v{version}")
        try:
            return cls.model_validate_json(body)
        except ValueError as exc:
            raise UnknownEvent(f"invalid {event_type} v{version}: {exc}") from exc


def validate_subject(subject: str) -> str:
    """Return ``subject`` if it has the shape ``matinee.<domain>.<event>``, else raise."""
    if not _SUBJECT.match(subject):
        raise ValueError(f"event subject must look like matinee.<domain>.<event>: {subject!r}")
    return subject


def domain_of(subject_or_filter: str) -> str:
    """Return the domain token of a subject or filter (``matinee.<domain>...``)."""
    tokens = subject_or_filter.split(".")
    if (
        len(tokens) < 3
        or tokens[0] != "matinee"
        or not all(_FILTER_TOKEN.match(t) for t in tokens[1:])
        or tokens[1] in ("*", ">")
        or ">" in tokens[:-1]
    ):
        raise ValueError(
            f"subject filter must look like matinee.<domain>.<event|*|>>: {subject_or_filter!r}"
        )
    return tokens[1]


def subject_matches(subject_filter: str, subject: str) -> bool:
    """Return whether ``subject`` matches a NATS filter with ``*`` and ``>`` wildcards."""
    wanted = subject_filter.split(".")
    got = subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(got) > i
        if i >= len(got) or (token != "*" and token != got[i]):
            return False
    return len(got) == len(wanted)
