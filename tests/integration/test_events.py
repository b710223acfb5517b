"""The event bus on a real JetStream server (the nats-server wheel, started by conftest).

Each test uses its own subject and durable name: the server lives for the session.
Waits use a generous guard timeout only so a broken bus fails instead of hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from matinee.platform.events import Event, JetStreamBus
from matinee.platform.events.bus import HEADER_DEAD_REASON, HEADER_EVENT_TYPE, HEADER_EVENT_VERSION
from matinee.platform.telemetry.metrics import Metrics
from matinee.platform.telemetry.tracing import (
    TraceContext,
    current_trace_id,
    reset_current,
    set_current,
)
from tests.conftest import free_port
from tests.integration.conftest import NatsServer, running_nats

GUARD = 20.0


class Roundtrip(Event):
    type = "matinee.itest.roundtrip"
    title_id: int
    name: str = ""


class Deduped(Event):
    type = "matinee.itest.deduped"
    n: int


class Flaky(Event):
    type = "matinee.itest.flaky"
    n: int


class Resumed(Event):
    type = "matinee.itest.resumed"
    n: int


class Traced(Event):
    type = "matinee.itest.traced"


class Poison(Event):
    type = "matinee.itest.poison"
    n: int


class Hopeless(Event):
    type = "matinee.itest.hopeless"
    n: int


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[JetStreamBus]:
    bus = await JetStreamBus.connect(nats_server.url, service="itest", metrics=Metrics())
    yield bus
    await bus.close()


class Inbox:
    """A handler that records events and lets a test wait for them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.trace_ids: list[str] = []
        self._arrived = asyncio.Condition()

    async def __call__(self, event: Event) -> None:
        async with self._arrived:
            self.events.append(event)
            self.trace_ids.append(current_trace_id())
            self._arrived.notify_all()

    async def wait_for(self, count: int) -> list[Event]:
        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.events) >= count)

        await asyncio.wait_for(enough(), GUARD)
        return self.events


async def test_published_event_reaches_a_durable_subscriber(bus: JetStreamBus) -> None:
    inbox = Inbox()
    await bus.subscribe(Roundtrip.type, "itest-roundtrip", inbox, schemas=[Roundtrip])
    sent = Roundtrip(title_id=7, name="Metropolis")
    assert await bus.publish(sent)
    [received] = await inbox.wait_for(1)
    assert received == sent
    await bus.check()


async def test_same_event_id_published_twice_is_stored_once(bus: JetStreamBus) -> None:
    inbox = Inbox()
    await bus.subscribe(Deduped.type, "itest-deduped", inbox, schemas=[Deduped])
    event = Deduped(n=1)
    assert await bus.publish(event)
    assert not await bus.publish(event)  # a producer retrying after a lost ack
    assert await bus.publish(Deduped(n=2))
    received = await inbox.wait_for(2)
    assert [e.n for e in received] == [1, 2]  # type: ignore[attr-defined]
    info = await bus.js.stream_info("MATINEE_ITEST", subjects_filter=Deduped.type)
    assert info.state.subjects == {Deduped.type: 2}


async def test_failing_handler_gets_the_event_again_then_acks(bus: JetStreamBus) -> None:
    attempts: list[int] = []
    inbox = Inbox()

    async def flaky(event: Flaky) -> None:
        attempts.append(event.n)
        if attempts.count(event.n) == 1:
            raise RuntimeError("downstream not ready")
        await inbox(event)

    sub = await bus.subscribe(
        Flaky.type, "itest-flaky", flaky, schemas=[Flaky], retry_delay=0.1, batch=1
    )
    await bus.publish(Flaky(n=1))
    await bus.publish(Flaky(n=2))
    received = await inbox.wait_for(2)
    assert sorted(e.n for e in received) == [1, 2]  # type: ignore[attr-defined]
    assert sorted(attempts) == [1, 1, 2, 2]
    await sub.stop()
    info = await bus.js.consumer_info("MATINEE_ITEST", "itest-flaky")
    assert info.num_pending == 0


async def test_durable_consumer_resumes_where_it_stopped(nats_server: NatsServer) -> None:
    first = await JetStreamBus.connect(nats_server.url, service="search")
    inbox = Inbox()
    await first.subscribe(Resumed.type, "itest-resumed", inbox, schemas=[Resumed])
    await first.publish(Resumed(n=1))
    await inbox.wait_for(1)
    await first.close()  # the consumer's instance goes away

    producer = await JetStreamBus.connect(nats_server.url, service="catalog")
    await producer.publish(Resumed(n=2))
    await producer.publish(Resumed(n=3))

    second = await JetStreamBus.connect(nats_server.url, service="search")
    later = Inbox()
    await second.subscribe(Resumed.type, "itest-resumed", later, schemas=[Resumed])
    await producer.publish(Resumed(n=4))
    received = await later.wait_for(3)
    assert [e.n for e in received] == [2, 3, 4]  # type: ignore[attr-defined]
    await second.close()
    await producer.close()


async def test_handler_runs_in_the_publishers_trace(bus: JetStreamBus) -> None:
    inbox = Inbox()
    await bus.subscribe(Traced.type, "itest-traced", inbox, schemas=[Traced])
    request = TraceContext.new()
    token = set_current(request)
    try:
        await bus.publish(Traced())
    finally:
        reset_current(token)
    await inbox.wait_for(1)
    assert inbox.trace_ids == [request.trace_id]


async def test_unreadable_event_is_dead_lettered_not_redelivered(bus: JetStreamBus) -> None:
    inbox = Inbox()
    await bus.subscribe(Poison.type, "itest-poison", inbox, schemas=[Poison])
    # A producer on a newer schema version than this consumer knows, and a broken body.
    newer = {HEADER_EVENT_TYPE: Poison.type, HEADER_EVENT_VERSION: "9"}
    await bus.js.publish(Poison.type, Poison(n=1).encode(), headers=newer)
    await bus.js.publish(Poison.type, b"{not json", headers={HEADER_EVENT_TYPE: Poison.type})
    await bus.publish(Poison(n=2))
    received = await inbox.wait_for(1)
    assert [e.n for e in received] == [2]  # type: ignore[attr-defined]

    dead = await bus.js.pull_subscribe(
        "matinee.deadletter.itest.poison", stream="MATINEE_DEADLETTER"
    )
    messages = await dead.fetch(2, timeout=GUARD)
    reasons = sorted((m.headers or {}).get(HEADER_DEAD_REASON, "") for m in messages)
    assert "no schema for matinee.itest.poison v9" in reasons[1]
    assert "invalid" in reasons[0]


async def test_event_failing_every_delivery_ends_in_dead_letters(bus: JetStreamBus) -> None:
    async def always_fails(event: Hopeless) -> None:
        raise ValueError(f"cannot handle {event.n}")

    await bus.subscribe(
        Hopeless.type, "itest-hopeless", always_fails, schemas=[Hopeless],
        max_deliver=2, retry_delay=0.1,
    )  # fmt: skip
    await bus.publish(Hopeless(n=5))
    dead = await bus.js.pull_subscribe(
        "matinee.deadletter.itest.hopeless", stream="MATINEE_DEADLETTER"
    )
    [message] = await dead.fetch(1, timeout=GUARD)
    assert Hopeless.model_validate_json(message.data).n == 5
    assert "cannot handle 5" in (message.headers or {})[HEADER_DEAD_REASON]


class Survivor(Event):
    type = "matinee.itest.survivor"
    n: int


async def test_consumer_survives_a_nats_server_restart(tmp_path: Path) -> None:
    port = free_port()
    with running_nats(port, tmp_path) as server:
        bus = await JetStreamBus.connect(server.url, service="itest")
        inbox = Inbox()
        await bus.subscribe(Survivor.type, "itest-survivor", inbox, schemas=[Survivor])
        await bus.publish(Survivor(n=1))
        await inbox.wait_for(1)
    try:
        # Same port, same store: the stream and the durable consumer come back from disk.
        with running_nats(port, tmp_path):
            await asyncio.wait_for(_until_connected(bus), GUARD)
            await bus.publish(Survivor(n=2))
            received = await inbox.wait_for(2)
            assert [e.n for e in received] == [1, 2]  # type: ignore[attr-defined]
    finally:
        await bus.close()


async def _until_connected(bus: JetStreamBus) -> None:
    while True:
        try:
            # Short tries: a request sent before the client notices the old server is gone
            # is lost and would wait out the full request timeout.
            await asyncio.wait_for(bus.check(), 0.5)
            return
        except Exception:
            await asyncio.sleep(0.1)


async def test_the_catalog_stream_is_a_changelog_kept_whole(bus: JetStreamBus) -> None:
    # A fresh search instance rebuilds its index by replaying the catalog stream, so no
    # catalog event may age out; other domains keep the default week.
    catalog = await bus.js.stream_info(await bus.ensure_stream("catalog"))
    assert catalog.config.max_age in (0, None)
    other = await bus.js.stream_info(await bus.ensure_stream("itestretention"))
    assert other.config.max_age == pytest.approx(7 * 86_400)
