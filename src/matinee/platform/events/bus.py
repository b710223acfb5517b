"""The ``EventBus`` protocol and the delivery rules every implementation shares.

Delivery is at least once (DESIGN.md rule 4). For each message a consumer gets,
:class:`Dispatcher` decides one outcome:

| message | outcome |
|---|---|
| handler returns | ack |
| handler raises, deliveries left | retry after a growing delay (nak with delay) |
| handler raises on the last delivery | dead letter (``matinee.deadletter.<domain>.<event>``), ack |
| no schema for its type/version, or a bad body | dead letter at once, ack: poison never loops |
| an event id this subscription already handled | ack without calling the handler again |

The handler runs with the publisher's trace as its parent, so its logs and its
own outgoing calls and events carry the same ``trace_id``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, TypeVar

from matinee.platform.events.schema import Event, Schemas, UnknownEvent
from matinee.platform.telemetry.metrics import Metrics
from matinee.platform.telemetry.tracing import TraceContext, reset_current, set_current

__all__ = [
    "DEAD_LETTER_PREFIX",
    "HEADER_DEAD_CONSUMER",
    "HEADER_DEAD_REASON",
    "HEADER_EVENT_TYPE",
    "HEADER_EVENT_VERSION",
    "HEADER_MSG_ID",
    "HEADER_PRODUCER",
    "HEADER_TRACEPARENT",
    "Delivery",
    "Dispatcher",
    "EventBus",
    "Handler",
    "Outcome",
    "Subscription",
    "dead_letter_subject",
]

log = logging.getLogger("matinee.events")

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_EVENT_TYPE = "Matinee-Event-Type"
HEADER_EVENT_VERSION = "Matinee-Event-Version"
HEADER_PRODUCER = "Matinee-Producer"
HEADER_TRACEPARENT = "traceparent"
HEADER_DEAD_REASON = "Matinee-Dead-Reason"
HEADER_DEAD_CONSUMER = "Matinee-Dead-Consumer"
DEAD_LETTER_PREFIX = "matinee.deadletter"

# How many handled event ids a subscription remembers to skip redeliveries.
_SEEN_LIMIT = 10_000

E = TypeVar("E", bound=Event)
Handler = Callable[[E], Awaitable[None]]


class Subscription(Protocol):
    """A running durable consumer; stopping it keeps its position on the server."""

    durable: str

    async def stop(self) -> None:
        """Stop delivering; unacknowledged messages go back to the consumer."""
        ...


class EventBus(Protocol):
    """Publish facts and consume them durably; JetStream in the fleet, memory in unit tests."""

    async def publish(self, event: Event) -> bool:
        """Publish ``event``; return False when its event id was already published."""
        ...

    async def subscribe(
        self,
        subject_filter: str,
        durable: str,
        handler: Handler[E],
        *,
        schemas: Sequence[type[E]],
        max_deliver: int = 5,
        retry_delay: float = 1.0,
    ) -> Subscription:
        """Deliver events matching ``subject_filter`` to ``handler`` under a durable name."""
        ...

    async def check(self) -> None:
        """Raise unless the bus can publish now; use for /readyz."""
        ...

    async def close(self) -> None:
        """Stop every subscription and disconnect."""
        ...


class Outcome(Enum):
    ACK = "ack"
    RETRY = "retry"
    DEAD = "dead"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What to do with one delivered message."""

    outcome: Outcome
    delay: float = 0.0
    reason: str = ""


def dead_letter_subject(subject: str) -> str:
    """Return the dead-letter subject for a message first published on ``subject``."""
    rest = subject.removeprefix("matinee.")
    return f"{DEAD_LETTER_PREFIX}.{rest}"


class Dispatcher:
    """Decode, deduplicate, trace and run a handler for one subscription."""

    def __init__(
        self,
        durable: str,
        handler: Handler[E],
        schemas: Sequence[type[E]],
        *,
        max_deliver: int,
        retry_delay: float,
        max_retry_delay: float = 60.0,
        metrics: Metrics | None = None,
    ) -> None:
        if max_deliver < 1:
            raise ValueError("max_deliver must be >= 1")
        self.durable = durable
        self.handler: Callable[[Event], Awaitable[None]] = handler  # type: ignore[assignment]
        self.schemas = Schemas(schemas)
        self.max_deliver = max_deliver
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._consumed = (
            metrics.counter(
                "events_consumed_total",
                "Events delivered to a consumer, by outcome",
                ["durable", "type", "outcome"],
            )
            if metrics
            else None
        )

    async def dispatch(
        self, subject: str, headers: Mapping[str, str], body: bytes, delivered: int
    ) -> Delivery:
        """Run the handler for one message and say how to settle it."""
        event_type = headers.get(HEADER_EVENT_TYPE) or subject
        result = await self._dispatch(event_type, headers, body, delivered)
        if self._consumed is not None:
            self._consumed.labels(self.durable, event_type, result.outcome.value).inc()
        return result

    async def _dispatch(
        self, event_type: str, headers: Mapping[str, str], body: bytes, delivered: int
    ) -> Delivery:
        try:
            version = int(headers.get(HEADER_EVENT_VERSION, "1"))
            event = self.schemas.decode(event_type, version, body)
        except (UnknownEvent, ValueError) as exc:
            reason = f"undecodable: {exc}"[:500]
            log.error(
                "dead-lettering an event %s cannot read: %s", self.durable, reason,
                extra={"durable": self.durable, "event_type": event_type},
            )  # fmt: skip
            return Delivery(Outcome.DEAD, reason=reason)
        if event.event_id in self._seen:
            return Delivery(Outcome.DUPLICATE)
        parent = TraceContext.from_header(headers.get(HEADER_TRACEPARENT))
        token = set_current(parent.child() if parent else TraceContext.new())
        try:
            await self.handler(event)
        except Exception as exc:
            return self._failed(event, exc, delivered)
        finally:
            reset_current(token)
        self._remember(event.event_id)
        return Delivery(Outcome.ACK)

    def _failed(self, event: Event, exc: Exception, delivered: int) -> Delivery:
        reason = f"{type(exc).__name__}: {exc}"[:500]
        fields = {
            "durable": self.durable,
            "event_type": event.type,
            "event_id": event.event_id,
            "delivered": delivered,
        }
        if delivered >= self.max_deliver:
            log.error(
                "handler failed on the last delivery; dead-lettering: %s", reason,
                exc_info=exc, extra=fields,
            )  # fmt: skip
            return Delivery(Outcome.DEAD, reason=reason)
        delay = min(self.retry_delay * 2 ** (delivered - 1), self.max_retry_delay)
        log.warning("handler failed; retrying in %.1fs: %s", delay, reason, extra=fields)
        return Delivery(Outcome.RETRY, delay=delay, reason=reason)

    def _remember(self, event_id: str) -> None:
        self._seen[event_id] = None
        if len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
