"""Events are facts (DESIGN.md rule 4): typed, versioned, deduplicated, traced.

| usage | effect |
|---|---|
| ``class TitleUpserted(Event): type = "matinee.catalog.title_upserted"; version = 1`` | a schema |
| ``bus = await JetStreamBus.connect(settings.nats_url, service="catalog")`` | the fleet's bus |
| ``bus = InMemoryBus()`` | the fake for unit tests |
| ``DeferredBus(url, service="catalog")``, later ``await bus.start()`` | connects late |
| ``await bus.publish(TitleUpserted(title_id=7))`` | at least once, stored once per event id |
| ``await bus.subscribe("matinee.catalog.>", "search", on, schemas=[TitleUpserted])`` | durable |
| ``nats_server_command(port, data_dir / "nats")`` | how the supervisor starts NATS |
"""

from matinee.platform.events.bus import EventBus, Handler, Subscription
from matinee.platform.events.deferred import DeferredBus
from matinee.platform.events.jetstream import JetStreamBus
from matinee.platform.events.memory import InMemoryBus
from matinee.platform.events.schema import Event, UnknownEvent, subject_matches
from matinee.platform.events.server import (
    nats_server_binary,
    nats_server_command,
    nats_url,
    wait_for_nats,
)

__all__ = [
    "DeferredBus",
    "Event",
    "EventBus",
    "Handler",
    "InMemoryBus",
    "JetStreamBus",
    "Subscription",
    "UnknownEvent",
    "nats_server_binary",
    "nats_server_command",
    "nats_url",
    "subject_matches",
    "wait_for_nats",
]
