"""The catalog's title events, replayed from JetStream into this instance's index.

Every search instance holds the whole index, so instances must not share a durable
consumer (a shared durable splits the messages between them). Nor does a durable
per instance fit: the index lives in memory, so a restarted instance has lost what
its durable position says it has seen. Each instance therefore reads through its own
*ephemeral* pull consumer with no acks, starting at the stream position its index
holds (0 for an empty index: the whole stream). It tracks the stream sequence of
every message it applies; if the consumer or the connection is lost, it makes a new
one starting right after that sequence, so nothing is skipped or applied twice out
of order. Nothing is left on the server when an instance dies (the consumer expires).

| usage | effect |
|---|---|
| ``feed = JetStreamTitleFeed(settings.nats_url)`` | no I/O yet |
| ``await feed.run(after=0, apply=on_titles)`` | replays, then follows, forever |
| ``parse_title(body)`` | a :class:`TitleDoc` from a ``title_upserted`` body, or None |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import nats.errors
import orjson
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from matinee.platform.events import JetStreamBus
from matinee.services.catalog.events import TitleUpserted
from matinee.services.search.domain.model import TitleDoc
from matinee.services.search.domain.ports import Apply
from matinee.services.search.domain.text import display_title

__all__ = ["JetStreamTitleFeed", "parse_title"]

log = logging.getLogger("matinee.search.feed")

_BATCH = 256


class _TitleFields(BaseModel):
    """The fields of ``matinee.catalog.title_upserted`` search reads; newer ones optional."""

    model_config = ConfigDict(extra="ignore")

    title_id: int
    name: str
    year: int | None = None
    kind: str = "movie"
    genres: list[str] = []
    popularity: float = 0.0
    original_title: str | None = None
    alternate_titles: list[str] = []
    cast: list[str] = []
    maturity_rating: str | None = None

    @field_validator("cast", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        # Accept cast as names or as {"name": ...} objects, whichever catalog settles on.
        if isinstance(value, list):
            return [v.get("name", "") if isinstance(v, dict) else v for v in value]
        return value


def parse_title(body: bytes) -> TitleDoc | None:
    """Return the title a ``title_upserted`` body describes, None if it cannot be read."""
    try:
        fields = _TitleFields.model_validate(orjson.loads(body))
    except (ValidationError, ValueError):
        return None
    return TitleDoc(
        id=fields.title_id,
        title=display_title(fields.name),
        year=fields.year,
        popularity=fields.popularity,
        genres=tuple(fields.genres),
        original_title=fields.original_title,
        alternate_titles=tuple(fields.alternate_titles),
        cast=tuple(c for c in fields.cast if c),
        maturity_rating=fields.maturity_rating,
        kind=fields.kind,
    )


class JetStreamTitleFeed:
    """A :class:`~matinee.services.search.domain.ports.TitleFeed` on NATS JetStream."""

    subject = TitleUpserted.type

    def __init__(self, url: str, *, service: str = "search", retry_delay: float = 1.0) -> None:
        self.url = url
        self.service = service
        self.retry_delay = retry_delay
        self._bus: JetStreamBus | None = None

    async def check(self) -> None:
        """Raise unless connected to NATS."""
        if self._bus is None:
            raise ConnectionError("not connected to NATS yet")
        await self._bus.check()

    async def close(self) -> None:
        """Disconnect."""
        if self._bus is not None:
            await self._bus.close()
            self._bus = None

    async def run(self, after: int, apply: Apply) -> None:
        """Deliver every title event after stream sequence ``after``, forever."""
        position = after
        while True:
            try:
                position = await self._follow(position, apply)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection, consumer or server trouble: start again
                log.warning("catalog feed interrupted at %d: %s; resuming", position, exc)
                await asyncio.sleep(self.retry_delay)

    async def _connect(self) -> JetStreamBus:
        if self._bus is None:
            self._bus = await JetStreamBus.connect(self.url, service=self.service)
        return self._bus

    async def _follow(self, position: int, apply: Apply) -> int:
        bus = await self._connect()
        stream = await bus.ensure_stream("catalog")
        info = await bus.js.stream_info(stream)
        if info.state.last_seq <= position:
            await apply([], position, True)
        config = ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=position + 1,
            filter_subject=self.subject,
            inactive_threshold=60.0,
        )
        psub = await bus.js.pull_subscribe(self.subject, stream=stream, config=config)
        try:
            while True:
                try:
                    msgs = await psub.fetch(_BATCH, timeout=1.0)
                except nats.errors.TimeoutError:
                    continue
                docs = []
                pending = 0
                for msg in msgs:
                    meta = msg.metadata
                    if meta.sequence.stream <= position:
                        continue  # already applied: never go backwards
                    position = meta.sequence.stream
                    pending = meta.num_pending
                    doc = parse_title(msg.data)
                    if doc is None:
                        log.error("skipping an unreadable catalog event at %d", position)
                        continue
                    docs.append(doc)
                await apply(docs, position, pending == 0)
        finally:
            with contextlib.suppress(Exception):
                await psub.unsubscribe()
