"""A bus that exists from app construction and connects when the app starts.

Routes are built before the event loop runs, but a NATS connection needs the loop:
``DeferredBus`` is handed to routes at once and connected by the service's lifespan.
Until it is connected, publishing fails with a 503 problem rather than losing the
event silently, and its readiness check says why.

| usage | effect |
|---|---|
| ``bus = DeferredBus(settings.nats_url, service="catalog")`` | no I/O yet |
| ``await bus.start()`` (in the lifespan) | connects, retrying for ``connect_timeout`` s |
| ``readiness={"events": bus.check}`` | 503 until connected |
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from matinee.platform.errors import ServiceUnavailable
from matinee.platform.events.bus import EventBus, Handler, Subscription
from matinee.platform.events.jetstream import JetStreamBus
from matinee.platform.events.schema import Event

__all__ = ["DeferredBus"]

log = logging.getLogger("matinee.events")

E = TypeVar("E", bound=Event)


class DeferredBus:
    """An EventBus whose JetStream connection is made by ``start()``."""

    def __init__(self, url: str, *, service: str, connect_timeout: float = 30.0, **options: Any):
        self.url = url
        self.service = service
        self.connect_timeout = connect_timeout
        self._options = options
        self._bus: EventBus | None = None

    async def start(self) -> None:
        """Connect, retrying with backoff; raise if NATS stays unreachable past the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_timeout
        delay = 0.2
        while True:
            try:
                self._bus = await JetStreamBus.connect(
                    self.url, service=self.service, **self._options
                )
                return
            except Exception as exc:  # nats raises several unrelated types on refusal
                if loop.time() + delay > deadline:
                    raise ServiceUnavailable(f"cannot reach NATS at {self.url}: {exc}") from exc
                log.warning("NATS not reachable yet (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _connected(self) -> EventBus:
        if self._bus is None:
            raise ServiceUnavailable("the event bus is not connected yet")
        return self._bus

    async def publish(self, event: Event) -> bool:
        """Publish through the connected bus."""
        return await self._connected().publish(event)

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
        """Subscribe through the connected bus."""
        return await self._connected().subscribe(
            subject_filter,
            durable,
            handler,
            schemas=schemas,
            max_deliver=max_deliver,
            retry_delay=retry_delay,
        )

    async def check(self) -> None:
        """Raise unless connected and able to publish."""
        await self._connected().check()

    async def close(self) -> None:
        """Disconnect if connected."""
        if self._bus is not None:
            await self._bus.close()
            self._bus = None
