"""The event bus on NATS JetStream (nats-py).

One stream per domain, ``MATINEE_<DOMAIN>`` holding ``matinee.<domain>.>`` on disk,
created on first use by whoever publishes or subscribes first. Publishing sets
``Nats-Msg-Id`` to the event id, so a retried publish inside the stream's
duplicate window is stored once. Consumers are durable pull consumers with
explicit ack: instances of one service share a durable name and split the work;
a consumer that was away resumes where it stopped.

| usage | effect |
|---|---|
| ``bus = await JetStreamBus.connect(settings.nats_url, service="catalog")`` | reconnects forever |
| ``await bus.publish(TitleUpserted(title_id=7))`` | stored once per event id |
| ``await bus.subscribe("matinee.catalog.>", "search", on, schemas=[TitleUpserted])`` | durable |
| ``readiness={"events": bus.check}`` | ``/readyz`` 503 while NATS is unreachable |
| ``await bus.close()`` | stop consumers (positions kept), drain, disconnect |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from matinee.platform.events.bus import (
    DEAD_LETTER_PREFIX,
    HEADER_DEAD_CONSUMER,
    HEADER_DEAD_REASON,
    HEADER_EVENT_TYPE,
    HEADER_EVENT_VERSION,
    HEADER_MSG_ID,
    HEADER_PRODUCER,
    Dispatcher,
    E,
    Handler,
    Outcome,
    dead_letter_subject,
)
from matinee.platform.events.schema import Event, domain_of
from matinee.platform.telemetry.metrics import Metrics
from matinee.platform.telemetry.tracing import outgoing_headers

__all__ = ["CHANGELOG_DOMAINS", "JetStreamBus", "JetStreamSubscription", "stream_name"]

log = logging.getLogger("matinee.events")

_DURABLE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DAY = 86_400.0
# Streams that are changelogs: a new consumer (a fresh search instance) rebuilds its
# state by replaying them from the start, so they keep every event (0 = no age limit)
# instead of the default week. Every bus must agree, since whichever one touches a
# domain first creates its stream.
CHANGELOG_DOMAINS: dict[str, float] = {"catalog": 0.0}


def stream_name(domain: str) -> str:
    """Return the stream that holds a domain's events."""
    return f"MATINEE_{domain.upper()}"


class JetStreamBus:
    """An :class:`~matinee.platform.events.bus.EventBus` on NATS JetStream."""

    def __init__(
        self,
        nc: NATS,
        *,
        service: str,
        max_age: float = 7 * _DAY,
        duplicate_window: float = 120.0,
        replicas: int = 1,
        publish_timeout: float = 5.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=publish_timeout)
        self.service = service
        self.max_age = max_age
        self.duplicate_window = duplicate_window
        self.replicas = replicas
        self.metrics = metrics
        self._streams: set[str] = set()
        self._subscriptions: list[JetStreamSubscription] = []
        self._published = (
            metrics.counter(
                "events_published_total", "Events published, by type and result", ["type", "result"]
            )
            if metrics
            else None
        )

    @classmethod
    async def connect(cls, url: str, *, service: str, **options: Any) -> JetStreamBus:
        """Connect to NATS at ``url`` (comma-separated for a cluster) and return a bus."""

        async def on_disconnect() -> None:
            log.warning("disconnected from NATS; reconnecting")

        async def on_reconnect() -> None:
            log.info("reconnected to NATS")

        async def on_error(exc: Exception) -> None:
            log.warning("NATS error: %s", exc)

        nc = await nats.connect(
            servers=[u.strip() for u in url.split(",") if u.strip()],
            name=service,
            connect_timeout=2,
            reconnect_time_wait=0.5,
            max_reconnect_attempts=-1,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            error_cb=on_error,
        )
        return cls(nc, service=service, **options)

    def _max_age(self, domain: str) -> float:
        return CHANGELOG_DOMAINS.get(domain, self.max_age)

    async def ensure_stream(self, domain: str) -> str:
        """Create the domain's stream unless it exists; return its name."""
        name = stream_name(domain)
        if name in self._streams:
            return name
        try:
            await self.js.stream_info(name)
        except nats.js.errors.NotFoundError:
            config = StreamConfig(
                name=name,
                subjects=[f"matinee.{domain}.>"],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                max_age=self._max_age(domain),
                duplicate_window=self.duplicate_window,
                num_replicas=self.replicas,
            )
            try:
                await self.js.add_stream(config)
            except nats.js.errors.BadRequestError:
                # Another instance created it between our look and our create.
                await self.js.stream_info(name)
        self._streams.add(name)
        return name

    async def publish(self, event: Event) -> bool:
        """Publish ``event``; return False when JetStream already had its event id."""
        subject = event.subject
        if not subject:
            raise ValueError(f"{type(event).__name__} has no type; it cannot be published")
        headers = {
            HEADER_MSG_ID: event.event_id,
            HEADER_EVENT_TYPE: subject,
            HEADER_EVENT_VERSION: str(event.version),
            HEADER_PRODUCER: self.service,
            **outgoing_headers(),
        }
        stored = await self._publish(subject, event.encode(), headers)
        if self._published is not None:
            self._published.labels(subject, "stored" if stored else "duplicate").inc()
        return stored

    async def _publish(self, subject: str, body: bytes, headers: dict[str, str]) -> bool:
        domain = domain_of(subject)
        stream = await self.ensure_stream(domain)
        try:
            ack = await self.js.publish(subject, body, headers=headers, stream=stream)
        except nats.js.errors.NoStreamResponseError:
            # The stream vanished (a server that lost its store): make it again, once.
            self._streams.discard(stream)
            await self.ensure_stream(domain)
            ack = await self.js.publish(subject, body, headers=headers, stream=stream)
        return not ack.duplicate

    async def subscribe(
        self,
        subject_filter: str,
        durable: str,
        handler: Handler[E],
        *,
        schemas: Sequence[type[E]],
        max_deliver: int = 5,
        retry_delay: float = 1.0,
        ack_wait: float = 30.0,
        batch: int = 16,
    ) -> JetStreamSubscription:
        """Start a durable pull consumer delivering matching events to ``handler``."""
        if not _DURABLE.match(durable):
            raise ValueError(f"durable name must match {_DURABLE.pattern}: {durable!r}")
        dispatcher = Dispatcher(
            durable,
            handler,
            schemas,
            max_deliver=max_deliver,
            retry_delay=retry_delay,
            metrics=self.metrics,
        )
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=subject_filter,
            max_deliver=max_deliver,
            ack_wait=ack_wait,
        )
        sub = JetStreamSubscription(self, subject_filter, config, dispatcher, batch=batch)
        await sub.bind()
        sub.start()
        self._subscriptions.append(sub)
        return sub

    async def dead_letter(self, msg: Msg, durable: str, reason: str) -> None:
        """Copy a message nobody can handle to the dead-letter stream."""
        headers = dict(msg.headers or {})
        original_id = headers.get(HEADER_MSG_ID, f"{msg.metadata.stream}:{msg.metadata.sequence}")
        headers.update(
            {
                HEADER_MSG_ID: f"{original_id}:{durable}",
                HEADER_DEAD_REASON: reason.replace("\r", " ").replace("\n", " "),
                HEADER_DEAD_CONSUMER: durable,
            }
        )
        await self._publish(dead_letter_subject(msg.subject), msg.data, headers)

    async def check(self) -> None:
        """Raise unless connected to NATS with JetStream answering."""
        if not self.nc.is_connected:
            raise ConnectionError("not connected to NATS")
        await self.js.account_info()

    async def close(self) -> None:
        """Stop every subscription and disconnect, flushing pending publishes."""
        for sub in self._subscriptions:
            await sub.stop()
        self._subscriptions.clear()
        if not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()
            await self.nc.close()


class JetStreamSubscription:
    """A background task fetching from one durable pull consumer."""

    def __init__(
        self,
        bus: JetStreamBus,
        subject_filter: str,
        config: ConsumerConfig,
        dispatcher: Dispatcher,
        *,
        batch: int,
    ) -> None:
        self.bus = bus
        self.subject_filter = subject_filter
        self.durable = dispatcher.durable
        self.config = config
        self.dispatcher = dispatcher
        self.batch = batch
        self._psub: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def bind(self) -> None:
        """Create or update the durable consumer and attach to it."""
        stream = await self.bus.ensure_stream(domain_of(self.subject_filter))
        await self.bus.ensure_stream(DEAD_LETTER_PREFIX.split(".")[1])
        # Create-or-update, so a changed filter or max_deliver takes effect on redeploy.
        await self.bus.js.add_consumer(stream, config=self.config)
        if self._psub is not None:
            with contextlib.suppress(Exception):
                await self._psub.unsubscribe()
        self._psub = await self.bus.js.pull_subscribe_bind(durable=self.durable, stream=stream)

    def start(self) -> None:
        """Start the fetch loop."""
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.durable}")

    async def stop(self) -> None:
        """Stop fetching; the durable consumer and its position stay on the server."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._psub is not None:
            with contextlib.suppress(Exception):
                await self._psub.unsubscribe()
            self._psub = None

    async def _run(self) -> None:
        while True:
            assert self._psub is not None
            try:
                msgs = await self._psub.fetch(self.batch, timeout=2.0)
            except nats.errors.TimeoutError:
                continue
            except Exception as exc:
                log.warning(
                    "fetching for %s failed: %s", self.durable, exc, extra={"durable": self.durable}
                )
                await asyncio.sleep(1.0)
                await self._rebind()
                continue
            for msg in msgs:
                await self._settle(msg)

    async def _rebind(self) -> None:
        # After a server restart that lost state, the consumer must be made again.
        if not self.bus.nc.is_connected:
            return
        try:
            self.bus._streams.clear()
            await self.bind()
        except Exception as exc:
            log.warning("re-binding %s failed: %s", self.durable, exc)

    async def _settle(self, msg: Msg) -> None:
        headers = msg.headers or {}
        try:
            delivered = msg.metadata.num_delivered
            delivery = await self.dispatcher.dispatch(msg.subject, headers, msg.data, delivered)
        except asyncio.CancelledError:
            # Stopping mid-handler: hand the message straight back instead of waiting ack_wait.
            with contextlib.suppress(Exception):
                await asyncio.shield(msg.nak())
            raise
        try:
            if delivery.outcome is Outcome.RETRY:
                await msg.nak(delay=delivery.delay)
                return
            if delivery.outcome is Outcome.DEAD:
                await self.bus.dead_letter(msg, self.durable, delivery.reason)
            await msg.ack()
        except Exception as exc:
            # The server redelivers after ack_wait; handlers are idempotent.
            log.warning("settling a message for %s failed: %s", self.durable, exc)
