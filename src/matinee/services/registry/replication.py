"""Peer replication: what one registry accepts from a client, every peer learns.

Eureka's way: each register, heartbeat, cancel and status override a client sends
is sent on to every peer as the same REST call, marked with the header
``x-netflix-discovery-replication: true``; a peer applies a marked call and does not
pass it on. Nothing here is awaited by the client's request: calls wait in a queue
per peer and one worker sends them, in order.

| usage | effect |
|---|---|
| ``r = Replicator(peers, registry, transport=pool, metrics=m)`` | one queue and worker per peer |
| ``await r.start()``, ``await r.stop()`` | workers run; stop flushes briefly, then ends them |
| ``r.register(record)``, ``r.renew(app, id)``, ``r.cancel(app, id)`` | queued, returns at once |
| ``r.set_status(app, id, status)``, ``r.clear_status(app, id, status)`` | likewise |
| ``await r.sync()`` | the records of the first peer that answers, or ``None`` |

Failures: a call that finds no peer (refused, timed out, 5xx) is retried
``retries`` times, then the peer counts as down. While down, calls for it are
skipped (counted, not queued); every ``retry_interval`` the worker asks the peer's
``/status``, and once it answers it is sent every record this registry holds,
plus the cancels it missed, so it converges without waiting for heartbeats. A
heartbeat the peer answers with 404 (it lacks the instance) is followed by a
registration, as in Eureka.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

import orjson

from matinee.platform.discovery import Status
from matinee.platform.http import Response, Transport
from matinee.platform.telemetry.metrics import Metrics
from matinee.services.registry.api.wire import (
    REPLICATION_HEADER,
    is_replicated,
    replica_registration,
)
from matinee.services.registry.domain import InstanceRecord, Registry

__all__ = ["REPLICATION_HEADER", "Kind", "Peer", "Replica", "Replicator", "is_replicated"]

log = logging.getLogger("matinee.registry.replication")

_MARKED = {REPLICATION_HEADER: "true", "Accept": "application/json"}
_MARKED_JSON = {**_MARKED, "Content-Type": "application/json"}
# Cancels a down peer missed, replayed when it answers again; beyond this many, the
# peer's own eviction cleans up.
_MAX_MISSED_CANCELS = 10_000


class Kind(StrEnum):
    """The client calls that are replicated."""

    REGISTER = "register"
    RENEW = "renew"
    CANCEL = "cancel"
    STATUS = "status"
    CLEAR_STATUS = "clear_status"


@dataclass(frozen=True, slots=True)
class Replica:
    """One call to replicate; a registration is rendered from the record when it is sent."""

    kind: Kind
    app: str
    instance_id: str
    status: str = ""


class _Instruments:
    def __init__(self, metrics: Metrics) -> None:
        self.calls = metrics.counter(
            "matinee_registry_replications_total",
            "Calls replicated to peers by outcome: ok, retried, failed, skipped (peer down),"
            " dropped (queue full), missing (peer lacked the instance), rejected",
            ["peer", "action", "result"],
        )
        self.peer_up = metrics.gauge(
            "matinee_registry_peer_up", "1 while a peer takes replicated calls", ["peer"]
        )
        self.queued = metrics.gauge(
            "matinee_registry_replication_queue", "Replicated calls waiting for a peer", ["peer"]
        )
        self.syncs = metrics.counter(
            "matinee_registry_peer_syncs_total",
            "Start-up syncs of the whole registry from a peer",
            ["result"],
        )


class Peer:
    """One peer registry: its queue, its worker, and whether it answers."""

    def __init__(
        self,
        url: str,
        *,
        transport: Transport,
        lookup: Callable[[str], InstanceRecord | None],
        holdings: Callable[[], Sequence[InstanceRecord]],
        instruments: _Instruments,
        timeout: float = 2.0,
        retries: int = 2,
        retry_pause: float = 0.2,
        retry_interval: float = 2.0,
        queue_size: int = 10_000,
    ) -> None:
        self.url = url.rstrip("/")
        self.up = True  # until a call fails: at start, replicating is how we find out
        # Set while the registry stops: what is queued gets one more try, no retries.
        self.closing = False
        self._transport = transport
        self._lookup = lookup
        self._holdings = holdings
        self._m = instruments
        self._timeout = timeout
        self._retries = retries
        self._retry_pause = retry_pause
        self._retry_interval = retry_interval
        self._queue: asyncio.Queue[Replica] = asyncio.Queue(queue_size)
        self._missed_cancels: dict[str, str] = {}
        self._nudge = asyncio.Event()
        instruments.peer_up.labels(self.url).set(1)
        instruments.queued.labels(self.url).set_function(self._queue.qsize)

    # -- producer side (request handlers): never waits --------------------------------

    def offer(self, replica: Replica) -> None:
        """Queue ``replica`` for this peer; skip it while the peer is down."""
        if not self.up:
            self._skip(replica)
            return
        try:
            self._queue.put_nowait(replica)
        except asyncio.QueueFull:
            self._count(replica, "dropped")

    def nudge(self) -> None:
        """Look at a down peer now rather than at the next interval (it just called us)."""
        if not self.up:
            self._nudge.set()

    @property
    def queued(self) -> int:
        """Return how many calls wait for this peer."""
        return self._queue.qsize()

    async def idle(self) -> None:
        """Return once every queued call was sent or given up on."""
        await self._queue.join()

    # -- the worker -------------------------------------------------------------------

    async def run(self) -> None:
        """Send queued calls in order, for as long as the registry runs."""
        while True:
            if not self.up:
                await self._await_recovery()
            replica = await self._queue.get()
            try:
                if self.up:
                    await self._deliver(replica)
                else:
                    self._skip(replica)
            except Exception:  # one bad call must not end replication to this peer
                log.exception("replicating %s to %s failed", replica.kind, self.url)
            finally:
                self._queue.task_done()

    async def _deliver(self, replica: Replica) -> None:
        request = self._request(replica)
        if request is None:
            self._count(replica, "ok")  # registered, then cancelled before it went out
            return
        method, path, body = request
        problem = ""
        for attempt in range(self._retries + 1):
            if attempt and self.closing:
                break  # stopping: no time for retries
            if attempt:
                self._count(replica, "retried")
                await asyncio.sleep(self._retry_pause * 2 ** (attempt - 1))
            try:
                reply = await self._transport.send(
                    method,
                    self.url + path,
                    headers=_MARKED_JSON if body is not None else _MARKED,
                    body=body,
                    timeout=self._timeout,
                )
            except (OSError, TimeoutError) as exc:
                problem = str(exc) or type(exc).__name__
                continue
            if reply.status >= 500:
                problem = f"HTTP {reply.status}"
                continue
            self._settle(replica, reply)
            return
        self._count(replica, "failed")
        self._went_down(problem)

    def _settle(self, replica: Replica, reply: Response) -> None:
        if reply.status < 300 or (reply.status == 404 and replica.kind is Kind.CANCEL):
            self._count(replica, "ok")
        elif reply.status == 404:
            # The peer lacks the instance (it restarted, or missed the registration):
            # send it the whole record, as a Eureka peer does after a 404 heartbeat.
            self._count(replica, "missing")
            if replica.kind is not Kind.REGISTER and self._lookup(replica.instance_id):
                self.offer(Replica(Kind.REGISTER, replica.app, replica.instance_id))
        else:
            self._count(replica, "rejected")
            log.warning(
                "peer %s refused a replicated %s of %s: %s %s",
                self.url,
                replica.kind,
                replica.instance_id,
                reply.status,
                reply.body[:200],
            )

    def _request(self, replica: Replica) -> tuple[str, str, bytes | None] | None:
        base = f"/apps/{quote(replica.app.upper(), safe='')}"
        one = f"{base}/{quote(replica.instance_id, safe='')}"
        match replica.kind:
            case Kind.REGISTER:
                # Rendered now, not when queued: the peer gets the latest state.
                record = self._lookup(replica.instance_id)
                if record is None:
                    return None
                return "POST", base, replica_registration(record)
            case Kind.RENEW:
                return "PUT", one, None
            case Kind.CANCEL:
                return "DELETE", one, None
            case Kind.STATUS:
                return "PUT", f"{one}/status?value={quote(replica.status)}", None
            case Kind.CLEAR_STATUS:
                query = f"?value={quote(replica.status)}" if replica.status else ""
                return "DELETE", f"{one}/status{query}", None

    # -- down and back ----------------------------------------------------------------

    def _went_down(self, problem: str) -> None:
        self.up = False
        self._m.peer_up.labels(self.url).set(0)
        # Peers stopping together (`matinee down`) miss each other's goodbye: no alarm.
        log.log(
            logging.INFO if self.closing else logging.WARNING,
            "peer %s is not answering (%s); skipping it until it does",
            self.url,
            problem,
        )
        while not self._queue.empty():
            self._skip(self._queue.get_nowait())
            self._queue.task_done()

    async def _await_recovery(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudge.wait(), self._retry_interval)
            self._nudge.clear()
            if await self._answers():
                break
        self.up = True
        self._m.peer_up.labels(self.url).set(1)
        held = self._holdings()
        missed, self._missed_cancels = self._missed_cancels, {}
        log.info(
            "peer %s answers again; sending it %d records and %d missed cancels",
            self.url,
            len(held),
            len(missed),
        )
        for instance_id, app in missed.items():
            self.offer(Replica(Kind.CANCEL, app, instance_id))
        for record in held:
            self.offer(Replica(Kind.REGISTER, record.app, record.instance_id))

    async def _answers(self) -> bool:
        try:
            reply = await self._transport.send(
                "GET", self.url + "/status", headers=_MARKED, body=None, timeout=self._timeout
            )
        except (OSError, TimeoutError):
            return False
        return reply.status == 200

    def _skip(self, replica: Replica) -> None:
        self._count(replica, "skipped")
        if replica.kind is Kind.CANCEL and len(self._missed_cancels) < _MAX_MISSED_CANCELS:
            self._missed_cancels[replica.instance_id] = replica.app
        elif replica.kind is Kind.REGISTER:
            self._missed_cancels.pop(replica.instance_id, None)

    def _count(self, replica: Replica, result: str) -> None:
        self._m.calls.labels(self.url, replica.kind.value, result).inc()


class Replicator:
    """Every peer of this registry: fan-out of client calls, and the start-up sync."""

    def __init__(
        self,
        peers: Sequence[str],
        registry: Registry,
        *,
        transport: Transport,
        metrics: Metrics,
        timeout: float = 2.0,
        retries: int = 2,
        retry_pause: float = 0.2,
        retry_interval: float = 2.0,
        queue_size: int = 10_000,
        sync_timeout: float = 3.0,
    ) -> None:
        self.registry = registry
        self._transport = transport
        self._m = _Instruments(metrics)
        self._sync_timeout = sync_timeout
        self.peers = [
            Peer(
                url,
                transport=transport,
                lookup=registry.find,
                holdings=registry.records,
                instruments=self._m,
                timeout=timeout,
                retries=retries,
                retry_pause=retry_pause,
                retry_interval=retry_interval,
                queue_size=queue_size,
            )
            for url in peers
        ]
        self._tasks: list[asyncio.Task[None]] = []

    # -- fan-out ------------------------------------------------------------------------

    def register(self, record: InstanceRecord) -> None:
        """Replicate a registration (the peer gets the record as it is when sent)."""
        self._offer(Replica(Kind.REGISTER, record.app, record.instance_id))

    def renew(self, app: str, instance_id: str) -> None:
        """Replicate a heartbeat."""
        self._offer(Replica(Kind.RENEW, app, instance_id))

    def cancel(self, app: str, instance_id: str) -> None:
        """Replicate a cancellation."""
        self._offer(Replica(Kind.CANCEL, app, instance_id))

    def set_status(self, app: str, instance_id: str, status: Status) -> None:
        """Replicate a status override."""
        self._offer(Replica(Kind.STATUS, app, instance_id, status.value))

    def clear_status(self, app: str, instance_id: str, status: Status | None) -> None:
        """Replicate the removal of an override (and the reported status set with it)."""
        self._offer(Replica(Kind.CLEAR_STATUS, app, instance_id, status.value if status else ""))

    def heartbeat_own(self) -> None:
        """Renew this registry's own record at the peers (no client heartbeats it)."""
        for record in self.registry.records():
            if record.pinned:
                self.renew(record.app, record.instance_id)

    def nudge(self) -> None:
        """A peer called: look now at the peers counted as down."""
        for peer in self.peers:
            peer.nudge()

    def describe(self) -> list[dict[str, object]]:
        """Return each peer's URL, whether it answers, and the calls waiting for it."""
        return [{"url": p.url, "up": p.up, "queued": p.queued} for p in self.peers]

    def _offer(self, replica: Replica) -> None:
        for peer in self.peers:
            peer.offer(replica)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start one worker per peer."""
        self._tasks = [asyncio.create_task(peer.run()) for peer in self.peers]

    async def stop(self, flush: float = 1.0) -> None:
        """Give queued calls ``flush`` seconds to go out (a cancel, say), then stop."""
        for peer in self.peers:
            peer.closing = True
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(p.idle() for p in self.peers)), flush)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # -- start-up sync ------------------------------------------------------------------

    async def sync(self) -> list[InstanceRecord] | None:
        """Return every record of the first peer that answers; ``None`` if none does."""
        for peer in self.peers:
            try:
                reply = await self._transport.send(
                    "GET",
                    peer.url + "/peerreplication/leases",
                    headers=_MARKED,
                    body=None,
                    timeout=self._sync_timeout,
                )
            except (OSError, TimeoutError) as exc:
                log.info("no start-up sync from %s: %s", peer.url, exc or type(exc).__name__)
                continue
            records = _records(reply)
            if records is None:
                log.warning("peer %s answered the start-up sync with %s", peer.url, reply.status)
                continue
            self._m.syncs.labels("ok").inc()
            log.info("synced %d records from peer %s", len(records), peer.url)
            return records
        self._m.syncs.labels("no_peer").inc()
        return None


def _records(reply: Response) -> list[InstanceRecord] | None:
    if reply.status != 200:
        return None
    try:
        leases = orjson.loads(reply.body)["leases"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(leases, list):
        return None
    records = []
    for entry in leases:
        try:
            records.append(InstanceRecord.from_dict(entry))
        except (AttributeError, KeyError, TypeError, ValueError):
            continue  # one damaged entry must not cost the rest
    return records
