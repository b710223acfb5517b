"""An in-process event bus for unit tests: same protocol and delivery rules, no sockets.

Events go through the same JSON encoding and :class:`~matinee.platform.events.bus.Dispatcher`
as on JetStream, so a schema that does not round-trip fails here too. Delivery is
synchronous: when ``publish`` returns, every subscribed handler has run (retries
happen at once, without the delay), which keeps service unit tests deterministic.

| usage | effect |
|---|---|
| ``bus = InMemoryBus()`` | pass it to ``create_app(..., bus=bus)`` |
| ``await bus.publish(event)`` | False for an event id seen before |
| ``bus.published`` | every event stored, in order |
| ``bus.dead_letters`` | ``(subject, durable, reason)`` for each message given up on |
| ``await sub.stop()`` then ``subscribe`` with the same durable | resumes where it stopped |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from matinee.platform.events.bus import (
    HEADER_EVENT_TYPE,
    HEADER_EVENT_VERSION,
    HEADER_MSG_ID,
    Dispatcher,
    E,
    Handler,
    Outcome,
    dead_letter_subject,
)
from matinee.platform.events.schema import Event, domain_of, subject_matches
from matinee.platform.telemetry.tracing import outgoing_headers

__all__ = ["InMemoryBus", "InMemorySubscription"]


@dataclass(frozen=True, slots=True)
class _Message:
    subject: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class _Consumer:
    subject_filter: str
    position: int = 0
    dispatcher: Dispatcher | None = None
    busy: bool = False


@dataclass(slots=True)
class InMemorySubscription:
    """A durable consumer attached to an :class:`InMemoryBus`."""

    durable: str
    _consumer: _Consumer = field(repr=False)

    async def stop(self) -> None:
        """Detach the handler; the consumer keeps its position."""
        self._consumer.dispatcher = None


class InMemoryBus:
    """An :class:`~matinee.platform.events.bus.EventBus` held in memory."""

    def __init__(self) -> None:
        self.published: list[Event] = []
        self.dead_letters: list[tuple[str, str, str]] = []
        self._log: list[_Message] = []
        self._ids: set[str] = set()
        self._consumers: dict[str, _Consumer] = {}
        self.closed = False

    async def publish(self, event: Event) -> bool:
        """Store and deliver ``event``; return False for an event id seen before."""
        if not event.subject:
            raise ValueError(f"{type(event).__name__} has no type; it cannot be published")
        if self.closed:
            raise ConnectionError("the bus is closed")
        if event.event_id in self._ids:
            return False
        self._ids.add(event.event_id)
        self.published.append(event)
        headers = {
            HEADER_MSG_ID: event.event_id,
            HEADER_EVENT_TYPE: event.subject,
            HEADER_EVENT_VERSION: str(event.version),
            **outgoing_headers(),
        }
        self._log.append(_Message(event.subject, headers, event.encode()))
        await self._deliver()
        return True

    async def publish_raw(self, subject: str, headers: dict[str, str], body: bytes) -> None:
        """Store a message as a foreign or broken producer would send it."""
        self._log.append(_Message(subject, dict(headers), body))
        await self._deliver()

    async def subscribe(
        self,
        subject_filter: str,
        durable: str,
        handler: Handler[E],
        *,
        schemas: Sequence[type[E]],
        max_deliver: int = 5,
        retry_delay: float = 1.0,
    ) -> InMemorySubscription:
        """Attach ``handler`` to the durable consumer and deliver what it has not seen."""
        domain_of(subject_filter)
        consumer = self._consumers.setdefault(durable, _Consumer(subject_filter))
        consumer.subject_filter = subject_filter
        consumer.dispatcher = Dispatcher(
            durable, handler, schemas, max_deliver=max_deliver, retry_delay=retry_delay
        )
        await self._deliver()
        return InMemorySubscription(durable, consumer)

    async def _deliver(self) -> None:
        for durable, consumer in list(self._consumers.items()):
            # A handler that publishes re-enters here; the outer loop delivers the new message.
            if consumer.busy:
                continue
            consumer.busy = True
            try:
                while consumer.dispatcher is not None and consumer.position < len(self._log):
                    message = self._log[consumer.position]
                    if subject_matches(consumer.subject_filter, message.subject):
                        await self._deliver_one(durable, consumer.dispatcher, message)
                    consumer.position += 1
            finally:
                consumer.busy = False

    async def _deliver_one(self, durable: str, dispatcher: Dispatcher, message: _Message) -> None:
        for delivered in range(1, dispatcher.max_deliver + 1):
            result = await dispatcher.dispatch(
                message.subject, message.headers, message.body, delivered
            )
            if result.outcome is Outcome.RETRY:
                continue
            if result.outcome is Outcome.DEAD:
                self.dead_letters.append(
                    (dead_letter_subject(message.subject), durable, result.reason)
                )
            return

    async def check(self) -> None:
        """Raise once the bus is closed."""
        if self.closed:
            raise ConnectionError("the bus is closed")

    async def close(self) -> None:
        """Detach every handler and refuse further publishes."""
        for consumer in self._consumers.values():
            consumer.dispatcher = None
        self.closed = True
