"""The endpoint filter: forward a request to an instance of its service, stream the answer.

``Upstreams`` picks an instance (power of two choices on requests in flight,
skipping instances whose breaker is open) from discovery's local copy and holds
a keep-alive connection pool per instance. An ``Exchange`` carries one request
through its attempts with callbacks only: the body streams to the instance as it
arrives, the answer streams back as it arrives. A retry happens only for an
idempotent route, on another instance, within the retry budget, and only while
no byte of an answer has reached the client.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from matinee.platform.http import CircuitBreaker, RetryBudget
from matinee.platform.httpserver import HOP_BY_HOP, Request, UpstreamConnection, UpstreamHost
from matinee.platform.httpserver import UpstreamPool as UpstreamPool
from matinee.platform.instances import Instance, Resolver
from matinee.services.gateway.domain.routes import Route

if TYPE_CHECKING:
    from matinee.services.gateway.api.edge import Edge

__all__ = ["Deadlines", "Exchange", "InstanceState", "ServiceTargets", "Upstreams"]

_monotonic = time.monotonic
_random = random.random
# Bodies of idempotent requests up to this size are kept so that a retry can resend them.
_REPLAY_LIMIT = 64 * 1024
# A head announcing a body up to this size waits for the body's first bytes to leave with.
_HOLD_HEAD_LIMIT = 64 * 1024
# Answers that mean "this instance could not serve it": worth another instance.
_RETRY_STATUSES = frozenset({502, 503, 504})
# Response headers the edge replaces or that concern only the hop from the service.
_DROP_FROM_UPSTREAM = HOP_BY_HOP | {
    b"server",
    b"traceparent",
    b"x-request-id",
    b"access-control-allow-origin",
    b"access-control-allow-credentials",
    b"access-control-expose-headers",
    b"x-frame-options",
    b"x-content-type-options",
    b"referrer-policy",
    b"strict-transport-security",
}


class InstanceState:
    """One instance as the edge sees it: its connections, breaker and load."""

    __slots__ = ("breaker", "host", "host_line", "inflight", "instance_id")

    def __init__(self, instance: Instance, host: UpstreamHost) -> None:
        self.instance_id = instance.instance_id
        self.host = host
        self.host_line = b"host: %b:%d\r\n" % (instance.host.encode(), instance.port)
        self.breaker = CircuitBreaker(consecutive_failures=5, cooldown=2.0, max_cooldown=30.0)
        self.inflight = 0


class ServiceTargets:
    """The instances of one service, kept in step with discovery's copy."""

    __slots__ = ("_seen", "_states", "budget", "name", "resolver", "upstreams")

    def __init__(self, name: str, resolver: Resolver, upstreams: Upstreams) -> None:
        self.name = name
        self.resolver = resolver
        self.upstreams = upstreams
        self.budget = RetryBudget(ratio=0.1, min_per_second=10.0)
        self._seen: Sequence[Instance] | None = None
        self._states: list[InstanceState] = []

    def states(self) -> list[InstanceState]:
        """Return the current instances' states (rebuilt when discovery's copy changed)."""
        instances = self.resolver.instances(self.name)
        if instances is not self._seen:
            self._seen = instances
            self._states = [self.upstreams.state(i) for i in instances]
        return self._states

    def choose(self, now: float, tried: list[InstanceState] | None) -> InstanceState | None:
        """Pick an instance whose breaker lets a call through, not one already tried."""
        states = self.states()
        if len(states) == 1 and not tried:
            only = states[0]
            return only if only.breaker.acquire(now) else None
        usable = [s for s in states if s.breaker.available(now) and (not tried or s not in tried)]
        if not usable:
            return None
        if len(usable) == 1:
            chosen = usable[0]
        else:
            n = len(usable)
            a = usable[int(_random() * n)]
            b = usable[int(_random() * n)]
            chosen = a if a.inflight <= b.inflight else b
        return chosen if chosen.breaker.acquire(now) else None


class Deadlines:
    """The deadlines of attempts in flight, checked by one coarse ticker.

    A timer per attempt (``loop.call_later`` then ``cancel``) costs more than the
    rest of the proxy's bookkeeping; here an attempt is an entry in the dict of its
    timeout, and insertion order is deadline order, so a tick reads only the expired
    head. A timeout fires up to one tick late; the ticker sleeps while nothing is in
    flight.
    """

    __slots__ = ("_handle", "_loop", "_waiting", "tick")

    def __init__(self, tick: float = 0.01) -> None:
        self.tick = tick
        self._waiting: dict[float, dict[Exchange, float]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None

    def add(self, exchange: Exchange, timeout: float, loop: asyncio.AbstractEventLoop) -> None:
        """Call ``exchange._timed_out()`` unless :meth:`discard` comes within ``timeout``."""
        waiting = self._waiting.get(timeout)
        if waiting is None:
            waiting = self._waiting[timeout] = {}
        waiting[exchange] = loop.time() + timeout
        if self._handle is None:
            self._loop = loop
            self._handle = loop.call_later(self.tick, self._check)

    def discard(self, exchange: Exchange, timeout: float) -> None:
        """Forget the deadline of ``exchange``'s attempt (it ended)."""
        waiting = self._waiting.get(timeout)
        if waiting is not None:
            waiting.pop(exchange, None)

    def _check(self) -> None:
        loop = self._loop
        assert loop is not None
        now = loop.time()
        expired = []
        pending = False
        # A timed-out attempt may start another (a retry): iterate over a copy.
        for waiting in list(self._waiting.values()):
            for exchange, deadline in waiting.items():
                if deadline > now:
                    pending = True
                    break
                expired.append(exchange)
            for exchange in expired:
                del waiting[exchange]
            if expired:
                for exchange in expired:
                    exchange._timed_out()
                expired = []
                pending = pending or any(self._waiting.values())
        self._handle = loop.call_later(self.tick, self._check) if pending else None

    def __len__(self) -> int:
        return sum(len(w) for w in self._waiting.values())


class Upstreams:
    """Every service's targets and the connection pool they share."""

    def __init__(self, resolver: Resolver, pool: UpstreamPool) -> None:
        self.resolver = resolver
        self.pool = pool
        self.deadlines = Deadlines()
        self._services: dict[str, ServiceTargets] = {}
        self._states: dict[tuple[str, int], InstanceState] = {}

    def service(self, name: str) -> ServiceTargets:
        """Return (creating) the targets of service ``name``."""
        found = self._services.get(name)
        if found is None:
            found = self._services[name] = ServiceTargets(name, self.resolver, self)
        return found

    def state(self, instance: Instance) -> InstanceState:
        """Return the state of ``instance`` (kept across discovery refreshes)."""
        key = (instance.host, instance.port)
        found = self._states.get(key)
        if found is None or found.instance_id != instance.instance_id:
            found = InstanceState(instance, self.pool.host(instance.host, instance.port))
            self._states[key] = found
        return found


class Exchange:
    """One proxied request, from the first attempt to the end of the answer."""

    __slots__ = (
        "_body_ended",
        "_chunks",
        "_conn",
        "_done",
        "_hold_head",
        "_keep",
        "_replayable",
        "_responded",
        "_size",
        "_timing",
        "_tried",
        "edge",
        "head_rest",
        "out_headers",
        "request",
        "request_line",
        "route",
        "started",
        "target",
        "targets",
    )

    def __init__(
        self,
        edge: Edge,
        request: Request,
        route: Route,
        targets: ServiceTargets,
        request_line: bytes,
        head_rest: bytes,
        out_headers: bytes,
        started: float,
    ) -> None:
        self.edge = edge
        self.request = request
        self.route = route
        self.targets = targets
        self.request_line = request_line
        self.head_rest = head_rest
        self.out_headers = out_headers
        self.started = started
        self.target: InstanceState | None = None
        self._conn: UpstreamConnection | None = None
        self._timing = False
        self._tried: list[InstanceState] | None = None
        self._responded = False
        self._done = False
        self._chunks: list[bytes] = []
        self._size = 0
        self._keep = route.idempotent
        self._replayable = True
        self._body_ended = not request.has_body
        self._hold_head = False

    # -- attempts -----------------------------------------------------------------------

    def start(self) -> None:
        """Make the first attempt."""
        request = self.request
        request.on_disconnect = self._client_gone
        request.flow = self
        if request.has_body:
            request.set_body_sink(self)
        self._attempt(_monotonic())

    def _attempt(self, now: float) -> None:
        target = self.targets.choose(now, self._tried)
        if target is None:
            if self._tried:
                self._reply(502, "no other instance could answer", "connection")
            else:
                reason = "circuit_open" if self.targets.states() else "no_instances"
                self._reply(503, f"{self.route.service} is unavailable", reason)
            return
        self.target = target
        target.inflight += 1
        loop = self.edge.loop
        assert loop is not None
        self.targets.upstreams.deadlines.add(self, self.route.timeout, loop)
        self._timing = True
        conn = target.host.take()
        if conn is not None:
            self._send(conn)
        else:
            target.host.connect(lambda conn, exc: self._connected(target, conn, exc))

    def _connected(
        self, target: InstanceState, conn: UpstreamConnection | None, exc: BaseException | None
    ) -> None:
        if self._done or self._conn is not None or self.target is not target:
            if conn is not None:
                target.host.release(conn)  # a late connection still serves the next request
            return
        if conn is None:
            self._attempt_failed(exc or ConnectionError("connect failed"))
            return
        self._send(conn)

    def _send(self, conn: UpstreamConnection) -> None:
        assert self.target is not None
        self._conn = conn
        head = self.request_line + self.target.host_line + self.head_rest
        if not self.request.has_body:
            conn.send(head, self)
            return
        chunked = self.request.chunked
        parts = [head]
        for chunk in self._chunks:
            parts.append(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
        if self._body_ended and chunked:
            parts.append(b"0\r\n\r\n")
        conn.send(b"".join(parts), self, request_done=self._body_ended)
        if not self._keep:
            if self._chunks:
                self._replayable = False
            self._chunks = []

    def _may_retry(self, now: float) -> bool:
        if not self.route.idempotent or not self._replayable or self._responded:
            return False
        tried = self._tried
        if tried is not None and len(tried) + 1 >= self.edge.max_attempts:
            return False
        return self.targets.budget.try_withdraw(now)

    def _end_attempt(self, failed: bool, now: float) -> None:
        target = self.target
        if self._timing:
            self._timing = False
            self.targets.upstreams.deadlines.discard(self, self.route.timeout)
        if target is not None:
            target.inflight -= 1
            if failed:
                target.breaker.record_failure(now)
            else:
                target.breaker.record_success(now)

    def _attempt_failed(self, exc: BaseException, reason: str = "connection") -> None:
        now = _monotonic()
        self._conn = None
        self._end_attempt(True, now)
        if self._retry(now):
            return
        if reason == "timeout":
            self._reply(504, f"{self.route.service} did not answer in time", "timeout")
        else:
            self._reply(502, f"{self.route.service} could not be reached", "connection")

    def _retry(self, now: float) -> bool:
        if not self._may_retry(now):
            return False
        if self._tried is None:
            self._tried = []
        if self.target is not None:
            self._tried.append(self.target)
        self.target = None
        self.edge.stats.retry(self.route.service)
        self._attempt(now)
        return True

    def _timed_out(self) -> None:
        self._timing = False
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()
        self._attempt_failed(TimeoutError(), "timeout")

    # -- the request body (BodySink) ----------------------------------------------------------

    def on_body(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self.route.max_body:
            self._abandon()
            if not self._responded:
                self.request.close_after = True
                self._reply(413, f"the body is over {self.route.max_body} bytes", "")
            else:
                self.request.abort()
            return
        conn = self._conn
        if self._keep:
            self._chunks.append(data)
            if self._size > _REPLAY_LIMIT:
                self._keep = False
        elif conn is None:
            self._chunks.append(data)
        if conn is not None:
            conn.write(b"%x\r\n%b\r\n" % (len(data), data) if self.request.chunked else data)
            if not self._keep:
                self._replayable = False
                self._chunks = []

    def on_body_end(self) -> None:
        self._body_ended = True
        conn = self._conn
        if conn is not None:
            if self.request.chunked:
                conn.write(b"0\r\n\r\n")
            conn.request_done = True

    # -- the answer (UpstreamListener) ---------------------------------------------------------

    def on_upstream_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        now = _monotonic()
        if status in _RETRY_STATUSES and self._may_retry(now):
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.abort()
            self._end_attempt(True, now)
            # _may_retry withdrew from the budget already: go straight to another instance.
            if self._tried is None:
                self._tried = []
            if self.target is not None:
                self._tried.append(self.target)
            self.edge.stats.retry(self.route.service)
            self._attempt(now)
            return
        if self._timing:
            self._timing = False
            self.targets.upstreams.deadlines.discard(self, self.route.timeout)
        target = self.target
        if target is not None:
            if status >= 500:
                target.breaker.record_failure(now)
            else:
                target.breaker.record_success(now)
        parts = []
        length = None
        drop = _DROP_FROM_UPSTREAM
        for name, value in headers:
            lower = name.lower()
            if lower == b"content-length":
                length = int(value)
            elif lower not in drop:
                parts.append(b"%b: %b\r\n" % (name, value))
        parts.append(self.out_headers)
        self._responded = True
        # Servers often write the head and a small body separately (uvicorn does): keep
        # the head until the body's first bytes, so the client gets one write, not two.
        self._hold_head = (
            length is not None and 0 < length <= _HOLD_HEAD_LIMIT and self.request.method != "HEAD"
        )
        self.request.start(status, b"".join(parts), length)

    def on_upstream_body(self, data: bytes) -> None:
        self._hold_head = False
        self.request.write(data)

    def on_upstream_flush(self) -> None:
        if not self._hold_head:
            self.request.flush()

    def on_upstream_end(self) -> None:
        if self._done:
            return
        self._done = True
        self._conn = None
        target = self.target
        if target is not None:
            target.inflight -= 1
        request = self.request
        request.flow = None
        request.on_disconnect = None
        request.end()
        self.edge.observe(self.route, request.status, self.started)

    def on_upstream_error(self, exc: BaseException, got_head: bool) -> None:
        if self._done:
            return
        if self._responded:
            self._done = True
            self._conn = None
            self._end_attempt(True, _monotonic())
            self.request.abort()
            self.edge.observe(self.route, 502, self.started)
            return
        self._attempt_failed(exc)

    def on_upstream_writable(self, writable: bool) -> None:
        if writable:
            self.request.resume_reading()
        else:
            self.request.pause_reading()

    # -- the client (FlowListener, disconnect) --------------------------------------------------

    def pause(self) -> None:
        if self._conn is not None:
            self._conn.pause_reading()

    def resume(self) -> None:
        if self._conn is not None:
            self._conn.resume_reading()

    def _client_gone(self) -> None:
        if self._done:
            return
        self._abandon()
        self.edge.observe(self.route, 499, self.started)

    def _abandon(self) -> None:
        self._done = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()
        if self._timing:
            self._timing = False
            self.targets.upstreams.deadlines.discard(self, self.route.timeout)
        target, self.target = self.target, None
        if target is not None:
            target.inflight -= 1
            target.breaker.release()  # no verdict on the instance: the client left

    def _reply(self, status: int, detail: str, reason: str) -> None:
        self._done = True
        request = self.request
        request.flow = None
        request.on_disconnect = None
        if request.started or request.finished:
            request.abort()
            return
        extra = {"reason": reason} if reason else {}
        request.respond_problem(status, detail, self.out_headers, **extra)
        self.edge.observe(self.route, status, self.started)
