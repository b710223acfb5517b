"""The in-memory bus: the same delivery rules services rely on, without a server."""

from __future__ import annotations

import logging

import pytest

from matinee.platform.events import Event, InMemoryBus
from matinee.platform.events.bus import HEADER_EVENT_TYPE, HEADER_EVENT_VERSION, Dispatcher, Outcome
from matinee.platform.telemetry.tracing import (
    TraceContext,
    current_trace_id,
    reset_current,
    set_current,
)


class TitleUpserted(Event):
    type = "matinee.catalog.title_upserted"
    title_id: int


class TitleUpsertedV2(Event):
    type = "matinee.catalog.title_upserted"
    version = 2
    title_id: int
    slug: str


class TitleDeleted(Event):
    type = "matinee.catalog.title_deleted"
    title_id: int


class ProgressSaved(Event):
    type = "matinee.history.progress_saved"
    title_id: int


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


async def test_subscriber_gets_matching_events_in_order() -> None:
    bus = InMemoryBus()
    seen = Recorder()
    await bus.subscribe("matinee.catalog.>", "search", seen, schemas=[TitleUpserted, TitleDeleted])
    await bus.publish(TitleUpserted(title_id=1))
    await bus.publish(ProgressSaved(title_id=1))
    await bus.publish(TitleDeleted(title_id=1))
    assert [type(e) for e in seen.events] == [TitleUpserted, TitleDeleted]


async def test_one_subscription_reads_every_version_it_lists() -> None:
    bus = InMemoryBus()
    seen = Recorder()
    await bus.subscribe(
        TitleUpserted.type, "search", seen, schemas=[TitleUpserted, TitleUpsertedV2]
    )
    await bus.publish(TitleUpserted(title_id=1))
    await bus.publish(TitleUpsertedV2(title_id=2, slug="b"))
    assert [type(e) for e in seen.events] == [TitleUpserted, TitleUpsertedV2]


async def test_republishing_an_event_id_is_a_no_op() -> None:
    bus = InMemoryBus()
    seen = Recorder()
    await bus.subscribe("matinee.catalog.>", "search", seen, schemas=[TitleUpserted])
    event = TitleUpserted(title_id=1)
    assert await bus.publish(event)
    assert not await bus.publish(event)
    assert seen.events == [event]
    assert bus.published == [event]


async def test_a_late_subscriber_catches_up_and_a_returning_one_resumes() -> None:
    bus = InMemoryBus()
    await bus.publish(TitleUpserted(title_id=1))
    first = Recorder()
    sub = await bus.subscribe("matinee.catalog.>", "search", first, schemas=[TitleUpserted])
    assert [e.title_id for e in first.events] == [1]  # type: ignore[attr-defined]
    await sub.stop()
    await bus.publish(TitleUpserted(title_id=2))
    again = Recorder()
    await bus.subscribe("matinee.catalog.>", "search", again, schemas=[TitleUpserted])
    assert [e.title_id for e in again.events] == [2]  # type: ignore[attr-defined]


async def test_failing_handler_is_retried_then_dead_lettered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = InMemoryBus()
    calls: list[int] = []

    async def fails_twice(event: TitleUpserted) -> None:
        calls.append(event.title_id)
        if event.title_id == 1 and calls.count(1) <= 2:
            raise RuntimeError("index offline")
        if event.title_id == 2:
            raise RuntimeError("never works")

    await bus.subscribe(
        TitleUpserted.type, "search", fails_twice, schemas=[TitleUpserted], max_deliver=3
    )
    with caplog.at_level(logging.WARNING, logger="matinee.events"):
        await bus.publish(TitleUpserted(title_id=1))
        await bus.publish(TitleUpserted(title_id=2))
    assert calls == [1, 1, 1, 2, 2, 2]
    assert bus.dead_letters == [
        ("matinee.deadletter.catalog.title_upserted", "search", "RuntimeError: never works")
    ]
    assert "dead-lettering" in caplog.text


async def test_unreadable_message_is_dead_lettered_once() -> None:
    bus = InMemoryBus()
    seen = Recorder()
    await bus.subscribe(TitleUpserted.type, "search", seen, schemas=[TitleUpserted])
    headers = {HEADER_EVENT_TYPE: TitleUpserted.type, HEADER_EVENT_VERSION: "7"}
    await bus.publish_raw(TitleUpserted.type, headers, TitleUpserted(title_id=1).encode())
    await bus.publish(TitleUpserted(title_id=2))
    assert [e.title_id for e in seen.events] == [2]  # type: ignore[attr-defined]
    [(subject, durable, reason)] = bus.dead_letters
    assert (subject, durable) == ("matinee.deadletter.catalog.title_upserted", "search")
    assert "no schema for matinee.catalog.title_upserted v7" in reason


async def test_handler_sees_the_publishers_trace() -> None:
    bus = InMemoryBus()
    traces: list[str] = []

    async def handler(event: TitleUpserted) -> None:
        traces.append(current_trace_id())

    await bus.subscribe(TitleUpserted.type, "search", handler, schemas=[TitleUpserted])
    ctx = TraceContext.new()
    token = set_current(ctx)
    try:
        await bus.publish(TitleUpserted(title_id=1))
    finally:
        reset_current(token)
    await bus.publish(TitleUpserted(title_id=2))  # outside any trace: a fresh one
    assert traces[0] == ctx.trace_id
    assert traces[1] not in ("", ctx.trace_id)


async def test_a_handler_may_publish_follow_up_events() -> None:
    bus = InMemoryBus()
    history = Recorder()

    async def on_title(event: TitleUpserted) -> None:
        await bus.publish(ProgressSaved(title_id=event.title_id))

    await bus.subscribe(TitleUpserted.type, "reactor", on_title, schemas=[TitleUpserted])
    await bus.subscribe("matinee.history.>", "audit", history, schemas=[ProgressSaved])
    await bus.publish(TitleUpserted(title_id=3))
    assert [e.title_id for e in history.events] == [3]  # type: ignore[attr-defined]


async def test_closed_bus_is_not_ready_and_refuses_publishes() -> None:
    bus = InMemoryBus()
    await bus.check()
    await bus.close()
    with pytest.raises(ConnectionError):
        await bus.check()
    with pytest.raises(ConnectionError):
        await bus.publish(TitleUpserted(title_id=1))


async def test_redelivery_of_a_handled_event_skips_the_handler() -> None:
    seen = Recorder()
    dispatcher = Dispatcher("search", seen, [TitleUpserted], max_deliver=3, retry_delay=1.0)
    event = TitleUpserted(title_id=1)
    headers = {HEADER_EVENT_TYPE: event.type, HEADER_EVENT_VERSION: "1"}
    first = await dispatcher.dispatch(event.type, headers, event.encode(), 1)
    again = await dispatcher.dispatch(event.type, headers, event.encode(), 2)
    assert (first.outcome, again.outcome) == (Outcome.ACK, Outcome.DUPLICATE)
    assert seen.events == [event]


async def test_retry_delay_grows_and_is_capped() -> None:
    async def broken(event: TitleUpserted) -> None:
        raise RuntimeError("down")

    dispatcher = Dispatcher(
        "search", broken, [TitleUpserted], max_deliver=10, retry_delay=1.0, max_retry_delay=5.0
    )
    event = TitleUpserted(title_id=1)
    headers = {HEADER_EVENT_TYPE: event.type}
    delays = [
        (await dispatcher.dispatch(event.type, headers, event.encode(), n)).delay
        for n in range(1, 6)
    ]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
