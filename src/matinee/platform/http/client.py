"""``ServiceClient``: call a service by name, resiliently.

Each call resolves the service through discovery, picks an instance by power of
two choices on outstanding requests (skipping instances that are not UP or whose
breaker is open), bounds the attempt with a timeout, and on a failure retries an
idempotent call once more on a *different* instance if the retry budget allows.
Per-instance breakers keep traffic off a sick instance; the service breaker fails
fast while the whole service is sick. Every decision is counted in ``metrics``.

| usage | effect |
|---|---|
| ``c = ServiceClient("catalog", resolver=discovery, transport=pool)`` | one per callee, kept |
| ``r = await c.request("GET", "/t/1")`` | ``r.status``, ``r.json()``, ``r.instance`` (4xx too) |
| ``await c.request("POST", "/titles", json={...})`` | never retried (not idempotent) |
| ``await c.request("POST", "/q", json=q, idempotent=True)`` | retried: the caller vouches for it |
| ``await c.get_json("/rows", fallback=lambda exc: [])`` | decoded body, or the fallback's value |
| ``except CallFailed as exc: exc.reason`` | no_instances, circuit_open, timeout, connection, ... |

Metrics (all labelled ``service``): ``matinee_client_calls_total{outcome}``,
``matinee_client_attempts_total{outcome}``, ``matinee_client_retries_total{decision}``
(allowed, budget_denied, no_other_instance), ``matinee_client_fallbacks_total{reason}``,
``matinee_client_breaker_transitions_total{scope,state}``,
``matinee_client_breakers_open{scope}`` and the ``matinee_client_call_seconds`` histogram.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, get_args
from urllib.parse import urlencode

import orjson

from matinee.platform.http._types import (
    CallFailed,
    FailureReason,
    Response,
    ResponseError,
    Transport,
)
from matinee.platform.http.breaker import BreakerState, CircuitBreaker, RetryBudget
from matinee.platform.identity import identity_headers
from matinee.platform.instances import Instance, Resolver, Status
from matinee.platform.telemetry.metrics import Metrics
from matinee.platform.telemetry.tracing import outgoing_headers

__all__ = ["IDEMPOTENT_METHODS", "CallPolicy", "Fallback", "ServiceClient"]

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
# Callers may spell methods in lower case; checking both avoids a .upper() per call.
_IDEMPOTENT = IDEMPOTENT_METHODS | {m.lower() for m in IDEMPOTENT_METHODS}
_UP = Status.UP
_CLOSED = BreakerState.CLOSED
_REASONS: tuple[FailureReason, ...] = get_args(FailureReason)
_ATTEMPT_OUTCOMES = ("ok", "client_error", "timeout", "connection", "upstream_status")
_CALL_OUTCOMES = ("ok", "client_error", *_REASONS)
_RETRY_DECISIONS = ("allowed", "budget_denied", "no_other_instance")

Fallback = Callable[[CallFailed], Any]
"""Called with the failure; returns the value to use instead (or an awaitable of it)."""


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """How hard a client tries: timeout, attempts, retry budget, breaker thresholds."""

    # Seconds allowed for each attempt; every call has one.
    timeout: float = 1.0
    # Attempts per call, the first included; only idempotent calls get more than one.
    max_attempts: int = 2
    # Retries may add at most this share of the calls of the last window, ...
    retry_budget_ratio: float = 0.1
    # ... plus this many per second, so a quiet client may still retry.
    retry_budget_min_per_s: float = 10.0
    retry_budget_window: float = 10.0
    # Answers with these statuses are failures (breakers count them, idempotent calls retry).
    failure_statuses: frozenset[int] = frozenset({500, 502, 503, 504})
    # Instance breaker: open after this many failures in a row, ...
    breaker_consecutive_failures: int = 5
    # ... or at this failure rate over at least breaker_min_calls in breaker_window seconds.
    breaker_failure_rate: float = 0.5
    breaker_min_calls: int = 20
    breaker_window: float = 10.0
    # Seconds an open breaker waits before one probe; doubles per failed probe up to the max.
    breaker_cooldown: float = 5.0
    breaker_max_cooldown: float = 60.0
    # Service breaker: counts whole calls (after retries), so one dead instance never trips it.
    service_breaker_failure_rate: float = 0.5
    service_breaker_min_calls: int = 20
    service_breaker_cooldown: float = 5.0

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


class _Slot:
    """What the client tracks about one instance: its breaker and its calls in flight."""

    __slots__ = ("base", "breaker", "instance", "outstanding")

    def __init__(self, instance: Instance, breaker: CircuitBreaker) -> None:
        self.instance = instance
        self.base = instance.url
        self.breaker = breaker
        self.outstanding = 0


class ServiceClient:
    """A resilient client for one service; safe to share by every task of the process."""

    def __init__(
        self,
        service: str,
        *,
        resolver: Resolver,
        transport: Transport,
        metrics: Metrics | None = None,
        policy: CallPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.policy = policy = policy or CallPolicy()
        self.metrics = metrics = metrics or Metrics()
        self._resolver = resolver
        self._transport = transport
        # Trust only a transport that says it times out by itself; guard any other (fakes too).
        self._guard_timeout = not getattr(transport, "enforces_timeout", False)
        self._clock = clock
        self._random = (rng or random.Random()).random
        self._slots: dict[str, _Slot] = {}
        self._budget = RetryBudget(
            policy.retry_budget_ratio, policy.retry_budget_min_per_s, policy.retry_budget_window
        )
        self._init_metrics(metrics)
        self._instance_hook = self._transition_hook("instance")
        self._service_breaker = CircuitBreaker(
            consecutive_failures=policy.service_breaker_min_calls,
            failure_rate=policy.service_breaker_failure_rate,
            min_calls=policy.service_breaker_min_calls,
            window=policy.breaker_window,
            cooldown=policy.service_breaker_cooldown,
            max_cooldown=policy.service_breaker_cooldown,
            on_transition=self._transition_hook("service"),
        )

    def _init_metrics(self, m: Metrics) -> None:
        # Label children are resolved once here: a .labels() lookup per call costs more
        # than the rest of the bookkeeping.
        svc = self.service
        calls = m.counter(
            "matinee_client_calls_total",
            "Calls through the resilient client, by final outcome",
            ["service", "outcome"],
        )
        attempts = m.counter(
            "matinee_client_attempts_total",
            "Attempts (first tries and retries) sent to an instance, by outcome",
            ["service", "outcome"],
        )
        retries = m.counter(
            "matinee_client_retries_total",
            "Retry decisions after a failed attempt",
            ["service", "decision"],
        )
        fallbacks = m.counter(
            "matinee_client_fallbacks_total",
            "Fallbacks used instead of an answer, by failure reason",
            ["service", "reason"],
        )
        self._m_transitions = m.counter(
            "matinee_client_breaker_transitions_total",
            "Circuit breaker state changes, by scope and new state",
            ["service", "scope", "state"],
        )
        self._m_open = m.gauge(
            "matinee_client_breakers_open",
            "Circuit breakers currently not closed",
            ["service", "scope"],
        )
        self._m_latency = m.histogram(
            "matinee_client_call_seconds",
            "Duration of calls through the resilient client, retries included",
            ["service"],
        ).labels(svc)
        self._m_calls = {o: calls.labels(svc, o) for o in _CALL_OUTCOMES}
        self._m_attempts = {o: attempts.labels(svc, o) for o in _ATTEMPT_OUTCOMES}
        self._m_retries = {d: retries.labels(svc, d) for d in _RETRY_DECISIONS}
        self._m_fallbacks = {r: fallbacks.labels(svc, r) for r in _REASONS}
        self._m_call_ok = self._m_calls["ok"]
        self._m_call_4xx = self._m_calls["client_error"]
        self._m_attempt_ok = self._m_attempts["ok"]
        self._m_attempt_4xx = self._m_attempts["client_error"]

    def _transition_hook(self, scope: str) -> Callable[[BreakerState, BreakerState], None]:
        transitions = {s: self._m_transitions.labels(self.service, scope, s) for s in BreakerState}
        open_gauge = self._m_open.labels(self.service, scope)

        def hook(old: BreakerState, new: BreakerState) -> None:
            transitions[new].inc()
            if old is BreakerState.CLOSED:
                open_gauge.inc()
            elif new is BreakerState.CLOSED:
                open_gauge.dec()

        return hook

    # -- introspection (ops console, tests) ---------------------------------------------

    @property
    def service_breaker_state(self) -> BreakerState:
        """Return the state of the service-wide breaker."""
        return self._service_breaker.state

    def breaker_states(self) -> dict[str, BreakerState]:
        """Return each known instance's breaker state, by instance id."""
        return {iid: slot.breaker.state for iid, slot in self._slots.items()}

    def outstanding(self) -> dict[str, int]:
        """Return each known instance's calls in flight, by instance id."""
        return {iid: slot.outstanding for iid, slot in self._slots.items()}

    def retry_budget_balance(self) -> float:
        """Return how many retries the budget would allow right now."""
        return self._budget.balance(self._clock())

    # -- calls ----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        json: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - seconds per attempt
    ) -> Response:
        """Call ``method path`` on one instance; raise :class:`CallFailed` if none answers."""
        clock = self._clock
        start = clock()
        service_breaker = self._service_breaker
        if not service_breaker.acquire(start):
            self._m_calls["circuit_open"].inc()
            raise CallFailed(self.service, "circuit_open")
        # Allowed while not closed means this call is the service's half-open probe.
        service_probe = service_breaker.state is not _CLOSED

        insts = self._resolver.instances(self.service)
        slot = self._pick(insts, start, None)
        if slot is None:
            if service_probe:  # it found nowhere to go and made no call
                service_breaker.release()
            reason: FailureReason = (
                "circuit_open" if any(i.status == _UP for i in insts) else "no_instances"
            )
            self._m_calls[reason].inc()
            raise CallFailed(self.service, reason)

        policy = self.policy
        if idempotent is None:
            idempotent = method in _IDEMPOTENT
        hdrs = outgoing_headers()
        hdrs.update(identity_headers())
        if headers:
            hdrs.update(headers)
        if json is not None:
            body = orjson.dumps(json)
            if "content-type" not in hdrs and "Content-Type" not in hdrs:
                hdrs["Content-Type"] = "application/json"
        target = f"{path}?{urlencode(params, doseq=True)}" if params else path
        t = policy.timeout if timeout is None else timeout
        failure_statuses = policy.failure_statuses
        send = self._transport.send
        guard = self._guard_timeout
        self._budget.deposit(start)

        attempts = 0
        tried: list[str] | None = None
        last_status: int | None = None
        now = start
        while True:
            attempts += 1
            breaker = slot.breaker
            breaker.acquire(now)  # _pick checked available(now): this cannot be refused
            probe = breaker.state is not _CLOSED
            slot.outstanding += 1
            resp: Response | None
            try:
                if guard:
                    async with asyncio.timeout(t):
                        resp = await send(
                            method, slot.base + target, headers=hdrs, body=body, timeout=t
                        )
                else:
                    resp = await send(
                        method, slot.base + target, headers=hdrs, body=body, timeout=t
                    )
            except TimeoutError:
                resp = None
                reason = "timeout"
            except OSError:  # ConnectionError, TransportError, refused sockets
                resp = None
                reason = "connection"
            except BaseException:
                # Cancelled (or a bug in a transport): no outcome to count, free the probes.
                slot.outstanding -= 1
                if probe:
                    breaker.release()
                if service_probe:
                    service_breaker.release()
                raise
            slot.outstanding -= 1
            now = clock()

            if resp is not None:
                status = resp.status
                if status not in failure_statuses:
                    breaker.record_success(now)
                    service_breaker.record_success(now)
                    resp.instance = slot.instance
                    if status < 400:
                        self._m_attempt_ok.inc()
                        self._m_call_ok.inc()
                    else:
                        self._m_attempt_4xx.inc()
                        self._m_call_4xx.inc()
                    self._m_latency.observe(now - start)
                    return resp
                reason = "upstream_status"
                last_status = status

            breaker.record_failure(now)
            self._m_attempts[reason].inc()
            if not idempotent or attempts >= policy.max_attempts:
                break
            if tried is None:
                tried = [slot.instance.instance_id]
            else:
                tried.append(slot.instance.instance_id)
            retry_slot = self._pick(self._resolver.instances(self.service), now, tried)
            if retry_slot is None:
                self._m_retries["no_other_instance"].inc()
                break
            if not self._budget.try_withdraw(now):
                self._m_retries["budget_denied"].inc()
                break
            self._m_retries["allowed"].inc()
            slot = retry_slot

        service_breaker.record_failure(now)
        self._m_calls[reason].inc()
        self._m_latency.observe(now - start)
        raise CallFailed(self.service, reason, last_status=last_status, attempts=attempts)

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - seconds per attempt
        fallback: Fallback | None = None,
    ) -> Any:
        """Call and decode the JSON answer; on ``CallFailed`` return ``fallback(exc)`` if given.

        A 4xx answer raises :class:`ResponseError` (the callee's verdict, not an outage,
        so no fallback); an empty body decodes to None.
        """
        try:
            resp = await self.request(
                method,
                path,
                params=params,
                json=json,
                headers=headers,
                idempotent=idempotent,
                timeout=timeout,
            )
        except CallFailed as exc:
            if fallback is None:
                raise
            return await self.fall_back(exc, fallback)
        if resp.status >= 400:
            raise ResponseError(resp)
        return resp.json() if resp.body else None

    async def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - seconds per attempt
        fallback: Fallback | None = None,
    ) -> Any:
        """GET ``path`` and decode its JSON; on ``CallFailed`` return ``fallback(exc)`` if given."""
        return await self.request_json(
            "GET", path, params=params, headers=headers, timeout=timeout, fallback=fallback
        )

    async def fall_back(self, exc: CallFailed, fallback: Fallback) -> Any:
        """Count a fallback for ``exc`` and return what ``fallback`` gives (awaited if needed)."""
        self._m_fallbacks[exc.reason].inc()
        result = fallback(exc)
        if inspect.isawaitable(result):
            result = await result
        return result

    # -- load balancing -------------------------------------------------------------------

    def _pick(self, insts: Sequence[Instance], now: float, tried: list[str] | None) -> _Slot | None:
        """Choose an instance by power of two choices on outstanding calls."""
        n = len(insts)
        if n == 1:
            return self._usable(insts[0], now, tried)
        if n == 0:
            return None
        rnd = self._random
        i = int(rnd() * n)
        j = int(rnd() * (n - 1))
        if j >= i:
            j += 1
        a = self._usable(insts[i], now, tried)
        b = self._usable(insts[j], now, tried)
        if a is not None:
            return b if b is not None and b.outstanding < a.outstanding else a
        if b is not None:
            return b
        # Both draws were unusable (open, DOWN, already tried): choose among the rest.
        usable = [s for inst in insts if (s := self._usable(inst, now, tried)) is not None]
        n = len(usable)
        if n <= 1:
            return usable[0] if usable else None
        i = int(rnd() * n)
        j = int(rnd() * (n - 1))
        if j >= i:
            j += 1
        a, b = usable[i], usable[j]
        return b if b.outstanding < a.outstanding else a

    def _usable(self, inst: Instance, now: float, tried: list[str] | None) -> _Slot | None:
        if inst.status != _UP:
            return None
        slot = self._slots.get(inst.instance_id)
        if slot is None or slot.instance is not inst:
            slot = self._adopt(inst, slot)
        if tried is not None and inst.instance_id in tried:
            return None
        return slot if slot.breaker.available(now) else None

    def _adopt(self, inst: Instance, old: _Slot | None) -> _Slot:
        """Track a newly seen instance (or a new description of a known one)."""
        if old is not None and old.instance.host == inst.host and old.instance.port == inst.port:
            old.instance = inst  # same process, refreshed record (status, metadata)
            return old
        if old is not None:
            self._forget(old)
        p = self.policy
        slot = _Slot(
            inst,
            CircuitBreaker(
                consecutive_failures=p.breaker_consecutive_failures,
                failure_rate=p.breaker_failure_rate,
                min_calls=p.breaker_min_calls,
                window=p.breaker_window,
                cooldown=p.breaker_cooldown,
                max_cooldown=p.breaker_max_cooldown,
                on_transition=self._instance_hook,
            ),
        )
        if len(self._slots) >= 2 * len(self._resolver.instances(self.service)) + 16:
            self._prune()
        self._slots[inst.instance_id] = slot
        return slot

    def _prune(self) -> None:
        """Forget instances that left discovery, so churn cannot grow the table forever."""
        current = {i.instance_id for i in self._resolver.instances(self.service)}
        for iid, slot in list(self._slots.items()):
            if iid not in current and slot.outstanding == 0:
                self._forget(slot)
                del self._slots[iid]

    def _forget(self, slot: _Slot) -> None:
        if slot.breaker.state is not _CLOSED:
            self._m_open.labels(self.service, "instance").dec()
