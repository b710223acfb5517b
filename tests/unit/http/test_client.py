"""ServiceClient behaviour, driven through its constructor with fakes (no sockets)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from typing import Any

import orjson
import pytest

from matinee.platform.discovery import Status
from matinee.platform.errors import ServiceUnavailable
from matinee.platform.http import (
    BreakerState,
    CallFailed,
    CallPolicy,
    ResponseError,
    ServiceClient,
)
from matinee.platform.telemetry import Metrics
from matinee.platform.telemetry.tracing import TraceContext, reset_current, set_current
from tests.unit.http.fakes import (
    FakeClock,
    FakeResolver,
    FakeTransport,
    answer,
    hang,
    instance,
    refuse,
)

# Breakers that never trip, for tests about something else.
NO_BREAKERS = CallPolicy(
    breaker_consecutive_failures=10**9,
    breaker_failure_rate=2.0,
    service_breaker_min_calls=10**9,
    service_breaker_failure_rate=2.0,
)


class Env:
    """One client wired to fakes, plus helpers to read its metrics."""

    def __init__(self, *instances: Any, policy: CallPolicy | None = None, seed: int = 7) -> None:
        self.resolver = FakeResolver(*instances)
        self.transport = FakeTransport()
        self.clock = FakeClock()
        self.metrics = Metrics()
        self.client = ServiceClient(
            "catalog",
            resolver=self.resolver,
            transport=self.transport,
            metrics=self.metrics,
            policy=policy or CallPolicy(),
            clock=self.clock,
            rng=random.Random(seed),
        )

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, {"service": "catalog", **labels})
        return value or 0.0

    async def fail_reason(self, method: str = "GET", path: str = "/x", **kw: Any) -> CallFailed:
        with pytest.raises(CallFailed) as info:
            await self.client.request(method, path, **kw)
        return info.value


# -- load balancing -------------------------------------------------------------------------


async def test_load_spreads_over_every_up_instance() -> None:
    insts = [instance(n) for n in range(1, 4)]
    env = Env(*insts)
    for _ in range(300):
        resp = await env.client.request("GET", "/titles/1")
        assert resp.status == 200
    counts = [env.transport.count(i) for i in insts]
    assert sum(counts) == 300
    assert all(60 <= c <= 140 for c in counts), counts


async def test_busy_instance_gets_no_new_calls_while_others_are_idle() -> None:
    slow, fast1, fast2 = instance(1), instance(2), instance(3)
    env = Env(slow, fast1, fast2)
    release = asyncio.Event()
    env.transport.on(slow, hang(release))
    # Load the slow instance with calls in flight, as a stuck instance would be.
    env.resolver.list = [slow]
    held = [asyncio.create_task(env.client.request("GET", "/held")) for _ in range(4)]
    await asyncio.sleep(0)
    assert env.client.outstanding()["catalog-1"] == 4

    env.resolver.list = [slow, fast1, fast2]
    for _ in range(100):
        assert (await env.client.request("GET", "/x")).instance in (fast1, fast2)
    assert env.transport.count(slow) == 4  # only the held ones

    release.set()
    await asyncio.gather(*held)
    assert env.client.outstanding()["catalog-1"] == 0


async def test_instances_that_are_not_up_are_never_chosen() -> None:
    up = instance(1)
    others = [
        instance(2, Status.DOWN),
        instance(3, Status.STARTING),
        instance(4, Status.OUT_OF_SERVICE),
        instance(5, Status.UNKNOWN),
    ]
    env = Env(up, *others)
    for _ in range(50):
        assert (await env.client.request("GET", "/x")).instance == up
    assert env.transport.count(up) == 50


async def test_no_instances_fails_with_no_instances() -> None:
    env = Env()
    exc = await env.fail_reason()
    assert exc.reason == "no_instances" and exc.service == "catalog"
    env.resolver.list = [instance(1, Status.DOWN)]
    assert (await env.fail_reason()).reason == "no_instances"
    assert env.transport.sent == []
    assert env.metric("matinee_client_calls_total", outcome="no_instances") == 2


async def test_answer_names_the_instance_that_sent_it() -> None:
    inst = instance(1)
    env = Env(inst)
    resp = await env.client.request("GET", "/titles/7", params={"lang": "en", "q": "a b"})
    assert resp.instance == inst
    assert resp.json() == {"ok": True}
    assert env.transport.sent[0].url == "http://127.0.0.1:9001/titles/7?lang=en&q=a+b"


async def test_a_restarted_instance_on_a_new_port_starts_with_a_closed_breaker() -> None:
    old = instance(1)
    env = Env(old, policy=CallPolicy(breaker_consecutive_failures=2))
    env.transport.on(old, refuse())
    for _ in range(2):
        await env.fail_reason("POST")
    assert env.client.breaker_states()["catalog-1"] is BreakerState.OPEN
    reborn = replace(old, port=9101)
    env.resolver.list = [reborn]
    resp = await env.client.request("GET", "/x")
    assert resp.status == 200 and resp.instance == reborn
    assert env.client.breaker_states()["catalog-1"] is BreakerState.CLOSED
    assert env.metric("matinee_client_breakers_open", scope="instance") == 0


# -- timeouts -------------------------------------------------------------------------------


async def test_every_attempt_is_bounded_by_the_timeout() -> None:
    inst = instance(1)
    env = Env(inst, policy=CallPolicy(timeout=0.02))
    env.transport.on(inst, hang())
    exc = await env.fail_reason("POST")
    assert exc.reason == "timeout" and exc.attempts == 1
    assert env.transport.sent[0].timeout == 0.02  # the transport is told too
    assert env.client.outstanding()["catalog-1"] == 0
    assert env.metric("matinee_client_calls_total", outcome="timeout") == 1


async def test_per_call_timeout_overrides_the_policy() -> None:
    inst = instance(1)
    env = Env(inst, policy=CallPolicy(timeout=30.0))
    env.transport.on(inst, hang())
    exc = await env.fail_reason("GET", timeout=0.01)
    assert exc.reason == "timeout"
    assert env.transport.sent[0].timeout == 0.01


async def test_a_transport_timeout_counts_as_timeout() -> None:
    inst = instance(1)
    env = Env(inst)

    async def late(sent: Any) -> Any:
        raise TimeoutError

    env.transport.on(inst, late)
    assert (await env.fail_reason()).reason == "timeout"


# -- retries --------------------------------------------------------------------------------


async def test_post_is_never_retried() -> None:
    a, b = instance(1), instance(2)
    env = Env(a, b, policy=replace(NO_BREAKERS, max_attempts=3))
    env.transport.default = answer(503)
    for _ in range(10):
        exc = await env.fail_reason("POST", json={"title": "x"})
        assert exc.reason == "upstream_status" and exc.last_status == 503 and exc.attempts == 1
    assert len(env.transport.sent) == 10
    assert env.metric("matinee_client_retries_total", decision="allowed") == 0


async def test_patch_and_post_with_idempotent_flag() -> None:
    a, b = instance(1), instance(2)
    env = Env(a, b, policy=NO_BREAKERS)
    env.transport.default = refuse()
    await env.fail_reason("PATCH")
    assert len(env.transport.sent) == 1
    env.transport.sent.clear()
    await env.fail_reason("POST", idempotent=True)
    assert len(env.transport.sent) == 2
    env.transport.sent.clear()
    await env.fail_reason("GET", idempotent=False)
    assert len(env.transport.sent) == 1


async def test_get_is_retried_on_another_instance() -> None:
    bad, good = instance(1), instance(2)
    env = Env(bad, good, policy=NO_BREAKERS)
    env.transport.on(bad, refuse())
    for _ in range(40):
        env.transport.sent.clear()
        resp = await env.client.request("GET", "/titles/1")
        assert resp.status == 200 and resp.instance == good
        ports = [s.port for s in env.transport.sent]
        assert ports in ([good.port], [bad.port, good.port])
    assert env.metric("matinee_client_retries_total", decision="allowed") > 0
    assert env.metric("matinee_client_attempts_total", outcome="connection") == env.metric(
        "matinee_client_retries_total", decision="allowed"
    )
    assert env.metric("matinee_client_calls_total", outcome="ok") == 40


async def test_retry_never_goes_back_to_the_same_instance() -> None:
    only = instance(1)
    env = Env(only, policy=replace(NO_BREAKERS, max_attempts=3))
    env.transport.default = answer(502)
    exc = await env.fail_reason()
    assert exc.attempts == 1 and exc.last_status == 502
    assert len(env.transport.sent) == 1
    assert env.metric("matinee_client_retries_total", decision="no_other_instance") == 1


async def test_attempts_stop_at_max_attempts() -> None:
    insts = [instance(n) for n in range(1, 6)]
    env = Env(*insts, policy=replace(NO_BREAKERS, max_attempts=3))
    env.transport.default = answer(504)
    exc = await env.fail_reason()
    assert exc.attempts == 3
    assert len({s.port for s in env.transport.sent}) == 3  # three different instances


async def test_client_errors_are_answers_not_failures() -> None:
    a, b = instance(1), instance(2)
    env = Env(a, b)
    env.transport.default = answer(404, b'{"title": "Not Found"}')
    for _ in range(30):
        resp = await env.client.request("GET", "/titles/404")
        assert resp.status == 404 and not resp.ok
    assert len(env.transport.sent) == 30  # no retries
    assert set(env.client.breaker_states().values()) == {BreakerState.CLOSED}
    assert env.client.service_breaker_state is BreakerState.CLOSED
    assert env.metric("matinee_client_calls_total", outcome="client_error") == 30


async def test_retry_budget_caps_extra_load_near_ten_percent() -> None:
    insts = [instance(n) for n in range(1, 4)]
    policy = replace(NO_BREAKERS, max_attempts=3, retry_budget_min_per_s=0.0)
    env = Env(*insts, policy=policy)
    env.transport.default = answer(503)
    calls = 5000
    for _ in range(calls):  # 100 calls/s for 50 s of sustained failure
        await env.fail_reason()
        env.clock.advance(0.01)
    extra = len(env.transport.sent) - calls
    assert 0 < extra <= 0.1 * calls + 1
    assert env.metric("matinee_client_retries_total", decision="budget_denied") > 0
    assert env.metric("matinee_client_retries_total", decision="allowed") == extra


async def test_quiet_client_may_still_retry_thanks_to_the_floor() -> None:
    bad, good = instance(1), instance(2)
    env = Env(bad, good, policy=replace(NO_BREAKERS, retry_budget_min_per_s=1.0))
    env.transport.on(bad, refuse())
    oks = 0
    for _ in range(20):
        oks += (await env.client.request("GET", "/x")).status == 200
        env.clock.advance(60)  # far apart: the 10% share alone would never afford a retry
    assert oks == 20


# -- circuit breakers -----------------------------------------------------------------------


async def test_instance_breaker_opens_then_half_opens_then_closes() -> None:
    sick, well = instance(1), instance(2)
    policy = CallPolicy(breaker_consecutive_failures=3, breaker_cooldown=5.0)
    env = Env(sick, well, policy=policy)
    env.transport.on(sick, refuse())
    # POSTs are not retried: each one that lands on the sick instance fails.
    failures = 0
    while failures < 3:
        try:
            await env.client.request("POST", "/x")
        except CallFailed:
            failures += 1
    assert env.client.breaker_states()["catalog-1"] is BreakerState.OPEN
    assert env.metric("matinee_client_breakers_open", scope="instance") == 1

    before = env.transport.count(sick)
    for _ in range(50):
        assert (await env.client.request("POST", "/x")).instance == well
    assert env.transport.count(sick) == before

    env.clock.advance(5.0)
    env.transport.on(sick, answer(200))
    seen = 0
    for _ in range(50):
        seen += (await env.client.request("GET", "/x")).instance == sick
    assert seen > 0
    assert env.client.breaker_states()["catalog-1"] is BreakerState.CLOSED
    for state in ("open", "half_open", "closed"):
        assert (
            env.metric("matinee_client_breaker_transitions_total", scope="instance", state=state)
            == 1
        ), state
    assert env.metric("matinee_client_breakers_open", scope="instance") == 0


async def test_half_open_lets_exactly_one_probe_through() -> None:
    sick, well = instance(1), instance(2)
    env = Env(sick, well, policy=CallPolicy(breaker_consecutive_failures=1))
    env.transport.on(sick, refuse())
    while env.client.breaker_states().get("catalog-1") is not BreakerState.OPEN:
        await env.client.request("GET", "/x")
    env.clock.advance(60)
    release = asyncio.Event()
    env.transport.on(sick, hang(release))
    before = env.transport.count(sick)
    tasks = [asyncio.create_task(env.client.request("GET", "/x")) for _ in range(30)]
    await asyncio.sleep(0)
    assert env.transport.count(sick) == before + 1
    assert env.client.breaker_states()["catalog-1"] is BreakerState.HALF_OPEN
    release.set()
    await asyncio.gather(*tasks)
    assert env.client.breaker_states()["catalog-1"] is BreakerState.CLOSED


async def test_failed_probe_reopens_with_a_longer_cool_down() -> None:
    sick, well = instance(1), instance(2)
    policy = CallPolicy(breaker_consecutive_failures=1, breaker_cooldown=5.0)
    env = Env(sick, well, policy=policy)
    env.transport.on(sick, refuse())

    async def drive(n: int = 40) -> None:
        for _ in range(n):
            await env.client.request("GET", "/x")  # retried onto `well` when `sick` fails

    await drive()
    assert env.client.breaker_states()["catalog-1"] is BreakerState.OPEN
    env.clock.advance(5.0)
    before = env.transport.count(sick)
    await drive()
    assert env.transport.count(sick) == before + 1  # one probe, failed
    assert env.client.breaker_states()["catalog-1"] is BreakerState.OPEN
    env.clock.advance(5.0)
    await drive()
    assert env.transport.count(sick) == before + 1  # cool-down doubled to 10 s
    env.clock.advance(5.0)
    await drive()
    assert env.transport.count(sick) == before + 2


async def test_breaker_opens_on_failure_rate_without_a_long_streak() -> None:
    flaky, well = instance(1), instance(2)
    policy = CallPolicy(
        breaker_consecutive_failures=100, breaker_failure_rate=0.5, breaker_min_calls=10
    )
    env = Env(flaky, well, policy=policy)
    flips = iter(range(10**6))

    async def alternate(sent: Any) -> Any:
        if next(flips) % 2:
            raise ConnectionResetError("reset")
        return await answer()(sent)

    env.transport.on(flaky, alternate)
    for _ in range(60):
        await env.client.request("GET", "/x")
    assert env.client.breaker_states()["catalog-1"] is BreakerState.OPEN


async def test_all_instance_breakers_open_fails_fast_with_circuit_open() -> None:
    a, b = instance(1), instance(2)
    env = Env(a, b, policy=CallPolicy(breaker_consecutive_failures=1))
    env.transport.default = refuse()
    for _ in range(4):
        await env.fail_reason()
    assert set(env.client.breaker_states().values()) == {BreakerState.OPEN}
    sent = len(env.transport.sent)
    exc = await env.fail_reason()
    assert exc.reason == "circuit_open"
    assert len(env.transport.sent) == sent


async def test_service_breaker_fails_fast_then_recovers_through_one_probe() -> None:
    insts = [instance(n) for n in range(1, 4)]
    policy = replace(
        NO_BREAKERS,
        service_breaker_min_calls=20,
        service_breaker_failure_rate=0.5,
        service_breaker_cooldown=5.0,
    )
    env = Env(*insts, policy=policy)
    env.transport.default = answer(500)
    for _ in range(20):
        assert (await env.fail_reason()).reason == "upstream_status"
    assert env.client.service_breaker_state is BreakerState.OPEN

    sent = len(env.transport.sent)
    for _ in range(100):
        assert (await env.fail_reason()).reason == "circuit_open"
    assert len(env.transport.sent) == sent  # nothing reached the service
    assert env.metric("matinee_client_calls_total", outcome="circuit_open") == 100
    assert env.metric("matinee_client_breakers_open", scope="service") == 1

    env.clock.advance(5.0)
    env.transport.default = answer(200)
    assert (await env.client.request("GET", "/x")).status == 200
    assert env.client.service_breaker_state is BreakerState.CLOSED
    assert env.metric("matinee_client_breakers_open", scope="service") == 0
    assert (
        env.metric("matinee_client_breaker_transitions_total", scope="service", state="open") == 1
    )


async def test_one_dead_instance_never_trips_the_service_breaker() -> None:
    dead, a, b = instance(1), instance(2), instance(3)
    env = Env(dead, a, b, policy=CallPolicy(breaker_consecutive_failures=10**6))
    env.transport.on(dead, refuse())
    for _ in range(300):
        assert (await env.client.request("GET", "/x")).status == 200
    assert env.client.service_breaker_state is BreakerState.CLOSED


# -- fallbacks, JSON, headers ---------------------------------------------------------------


async def test_fallback_is_used_when_the_call_fails() -> None:
    env = Env()
    reasons: list[str] = []

    def popular(exc: CallFailed) -> list[str]:
        reasons.append(exc.reason)
        return ["popular"]

    assert await env.client.get_json("/rows", fallback=popular) == ["popular"]
    assert reasons == ["no_instances"]

    async def cached(exc: CallFailed) -> dict[str, str]:
        return {"from": "cache"}

    assert await env.client.get_json("/rows", fallback=cached) == {"from": "cache"}
    assert env.metric("matinee_client_fallbacks_total", reason="no_instances") == 2
    with pytest.raises(CallFailed):
        await env.client.get_json("/rows")


async def test_fallback_is_not_used_for_the_callees_own_answer() -> None:
    env = Env(instance(1))
    env.transport.default = answer(404, b'{"title": "Not Found"}')
    with pytest.raises(ResponseError) as info:
        await env.client.get_json("/titles/9", fallback=lambda exc: "nope")
    assert info.value.status == 404
    assert env.metric("matinee_client_fallbacks_total", reason="no_instances") == 0


async def test_get_json_decodes_the_body() -> None:
    env = Env(instance(1))
    env.transport.default = answer(200, orjson.dumps({"id": 1, "title": "Heat"}))
    assert await env.client.get_json("/titles/1") == {"id": 1, "title": "Heat"}
    env.transport.default = answer(204, b"")
    assert await env.client.get_json("/nothing") is None


async def test_json_body_is_encoded_with_its_content_type() -> None:
    env = Env(instance(1))
    await env.client.request_json("POST", "/titles", json={"title": "Heat"})
    sent = env.transport.sent[0]
    assert sent.method == "POST" and orjson.loads(sent.body or b"") == {"title": "Heat"}
    assert sent.headers["Content-Type"] == "application/json"


async def test_traceparent_follows_the_current_trace() -> None:
    env = Env(instance(1), instance(2))
    env.transport.on(instance(1), refuse())
    trace = TraceContext.new()
    token = set_current(trace)
    try:
        for _ in range(10):
            await env.client.request("GET", "/x", headers={"X-Profile": "p1"})
    finally:
        reset_current(token)
    for sent in env.transport.sent:  # retries included
        ctx = TraceContext.from_header(sent.headers["traceparent"])
        assert ctx is not None and ctx.trace_id == trace.trace_id
        assert sent.headers["X-Profile"] == "p1"

    env.transport.sent.clear()
    await env.client.request("GET", "/x")
    assert "traceparent" not in env.transport.sent[0].headers


async def test_metrics_count_calls_attempts_and_latency() -> None:
    env = Env(instance(1))

    async def slow(sent: Any) -> Any:
        env.clock.advance(0.003)
        return await answer()(sent)

    env.transport.default = slow
    for _ in range(5):
        await env.client.request("GET", "/x")
    assert env.metric("matinee_client_calls_total", outcome="ok") == 5
    assert env.metric("matinee_client_attempts_total", outcome="ok") == 5
    assert env.metric("matinee_client_call_seconds_count") == 5
    assert env.metric("matinee_client_call_seconds_bucket", le="0.0025") == 0
    assert env.metric("matinee_client_call_seconds_bucket", le="0.005") == 5
    assert b"matinee_client_retries_total" in env.metrics.render()


# -- robustness -----------------------------------------------------------------------------


async def test_cancelled_call_frees_its_slot_and_probe() -> None:
    inst = instance(1)
    env = Env(inst, policy=CallPolicy(breaker_consecutive_failures=1))
    env.transport.on(inst, refuse())
    await env.fail_reason()
    env.clock.advance(60)
    env.transport.on(inst, hang())
    task = asyncio.create_task(env.client.request("GET", "/x"))
    await asyncio.sleep(0)
    assert env.client.outstanding()["catalog-1"] == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert env.client.outstanding()["catalog-1"] == 0
    env.transport.on(inst, answer())
    assert (await env.client.request("GET", "/x")).status == 200  # the probe slot is free again


async def test_call_failed_renders_as_503_problem() -> None:
    exc = CallFailed("catalog", "timeout", last_status=None, attempts=2)
    assert isinstance(exc, ServiceUnavailable)
    resp = exc.to_response()
    assert resp.status_code == 503
    assert b"catalog unavailable: timeout" in resp.body


async def test_instances_that_left_discovery_are_forgotten() -> None:
    env = Env(instance(1))
    for n in range(2, 200):
        env.resolver.list = [instance(n)]
        await env.client.request("GET", "/x")
    assert len(env.client.breaker_states()) < 40


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        CallPolicy(timeout=0)
    with pytest.raises(ValueError):
        CallPolicy(max_attempts=0)


async def test_cancelled_ordinary_call_does_not_free_the_service_probe() -> None:
    policy = replace(NO_BREAKERS, service_breaker_min_calls=2, service_breaker_cooldown=5.0)
    env = Env(instance(1), policy=policy)

    async def by_path(sent: Any) -> Any:
        if "/hang" in sent.url:
            await asyncio.Event().wait()
        return await answer(500 if "/fail" in sent.url else 200)(sent)

    env.transport.default = by_path
    ordinary = asyncio.create_task(env.client.request("GET", "/hang"))  # started while closed
    await asyncio.sleep(0)
    for _ in range(2):
        await env.fail_reason("GET", "/fail")
    assert env.client.service_breaker_state is BreakerState.OPEN
    env.clock.advance(5.0)
    probe = asyncio.create_task(env.client.request("GET", "/hang-probe"))
    await asyncio.sleep(0)
    assert env.client.service_breaker_state is BreakerState.HALF_OPEN
    ordinary.cancel()
    await asyncio.gather(ordinary, return_exceptions=True)
    assert (await env.fail_reason("GET", "/ok")).reason == "circuit_open"  # one probe at a time
    probe.cancel()
    await asyncio.gather(probe, return_exceptions=True)
    assert (await env.client.request("GET", "/ok")).status == 200  # the probe slot came back
    assert env.client.service_breaker_state is BreakerState.CLOSED
