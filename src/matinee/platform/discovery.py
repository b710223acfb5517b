"""Service discovery: register this instance, heartbeat, and resolve others from a cache.

``Instance``, ``Status`` and ``Resolver`` (defined in ``instances``, named here) and the
``Discovery`` protocol are the contract the chassis (service.py) and the resilient client
(http/) rely on; implementations follow. They reach the registry through ``HttpPool``.

| usage | effect |
|---|---|
| ``d = RegistryDiscovery.from_settings(settings)`` | a client of ``MATINEE_REGISTRY_URL`` |
| ``await d.start(own)`` | registers ``own`` (retrying in the background), starts refreshes |
| ``d.instances("catalog")`` | UP instances from the local copy: a dict lookup, never blocks |
| ``await d.stop()`` | cancels the registration (best effort) and stops the tasks |
| ``StaticDiscovery([inst, ...])`` | a fixed set, for tests and registry-less runs |
| ``RegistryDiscovery(url, transport=fake)`` | tests: any ``matinee.platform.http.Transport`` |
| ``RegistryDiscovery("http://a/eureka,http://b/eureka")`` | several registries: fails over |
| ``split_registry_urls("http://a/eureka, http://b/eureka")`` | ``("http://a/eureka", ...)`` |

Several registry URLs (Eureka's ``defaultZone`` style, comma-separated) name peers
that replicate to each other: a client talks to one, moves to the next when it does
not answer, and tries the first again after ``failback_after`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from matinee.platform.http import HttpPool, Response, Transport
from matinee.platform.instances import Instance, Resolver, Status

if TYPE_CHECKING:
    from matinee.platform.settings import ServiceSettings

__all__ = [
    "Discovery",
    "Failover",
    "Instance",
    "RegistryDiscovery",
    "Resolver",
    "StaticDiscovery",
    "Status",
    "apps_hashcode",
    "eureka_registration",
    "instance_documents",
    "parse_applications",
    "parse_instance",
    "split_registry_urls",
]

log = logging.getLogger("matinee.discovery")


class Discovery(Resolver, Protocol):
    """Registration of this instance plus resolution of others."""

    async def start(self, own: Instance | None) -> None:
        """Register ``own`` (if given), start heartbeats and cache refreshes."""
        ...

    async def stop(self) -> None:
        """Cancel the registration and stop background tasks."""
        ...

    async def set_status(self, status: Status) -> None:
        """Change this instance's advertised status (the chassis follows readiness)."""
        ...


# --- Implementation: Eureka documents, a static resolver, the registry client. ---------------


_DEFAULT_DATA_CENTER = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"
# Metadata keys that map onto Instance fields rather than Instance.metadata.
_PROMOTED = ("version", "region", "zone")
_UP_ONLY: tuple[Instance, ...] = ()
# The shortest time between two registry fetches of one client.
_MIN_REFRESH_GAP = 0.5
# Seconds after start during which a client refreshes every 0.5 s instead.
_WARMUP = 15.0


def split_registry_urls(value: str | Sequence[str]) -> tuple[str, ...]:
    """Return the registry URLs in ``value`` (comma-separated or a sequence), in order."""
    parts = value.split(",") if isinstance(value, str) else value
    urls: list[str] = []
    for part in parts:
        url = part.strip().rstrip("/")
        if url and url not in urls:
            urls.append(url)
    return tuple(urls)


class Failover:
    """Which of several registry URLs to try, in what order.

    The URL that answered last goes first, the others after it in their given order;
    once ``failback_after`` seconds have passed on another one, the first URL is tried
    first again (it is the preferred one: the nearest, or the one everybody uses).

    | usage | effect |
    |---|---|
    | ``f = Failover(("http://a/eureka", "http://b/eureka"))`` | prefers ``a`` |
    | ``for i in f.order(): ...`` | indexes to try, best first |
    | ``f.answered(i)`` | ``i`` becomes current; ``True`` when that is a switch |
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        failback_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError("at least one registry URL is needed")
        self.urls = tuple(urls)
        self.failback_after = failback_after
        self._clock = clock
        self._current = 0
        self._since = clock()

    @property
    def current(self) -> str:
        """Return the URL in use now."""
        return self.urls[self._current]

    def order(self) -> list[int]:
        """Return the indexes of the URLs to try, best first."""
        current = self._current
        rest = [i for i in range(len(self.urls)) if i != current]
        now = self._clock()
        if current != 0 and now - self._since >= self.failback_after:
            # Time to see whether the preferred registry is back; if it is not, the
            # next look is another full interval away (a hung one costs a timeout).
            self._since = now
            return [0, current, *(i for i in rest if i != 0)]
        return [current, *rest]

    def answered(self, index: int) -> bool:
        """Record that ``urls[index]`` answered; return whether it replaced another."""
        if index == self._current:
            return False
        self._current = index
        self._since = self._clock()
        return True


def eureka_registration(
    instance: Instance, *, renewal_interval: float = 30.0, lease_duration: float = 90.0
) -> dict[str, Any]:
    """Return the Eureka registration body (``{"instance": {...}}``) for ``instance``."""
    metadata = {key: getattr(instance, key) for key in _PROMOTED if getattr(instance, key)}
    metadata.update(instance.metadata)
    return {
        "instance": {
            "instanceId": instance.instance_id,
            "hostName": instance.host,
            "app": instance.service.upper(),
            "ipAddr": instance.host,
            "status": instance.status.value,
            "port": {"$": instance.port, "@enabled": "true"},
            "securePort": {"$": 443, "@enabled": "false"},
            "vipAddress": instance.service,
            "secureVipAddress": instance.service,
            "homePageUrl": f"{instance.url}/",
            "statusPageUrl": f"{instance.url}/healthz",
            "healthCheckUrl": f"{instance.url}/healthz",
            "countryId": 1,
            "dataCenterInfo": {"@class": _DEFAULT_DATA_CENTER, "name": "MyOwn"},
            "leaseInfo": {
                "renewalIntervalInSecs": int(max(1, renewal_interval)),
                "durationInSecs": int(max(1, lease_duration)),
            },
            "metadata": metadata,
        }
    }


def _as_list(value: Any) -> list[Any]:
    # Older Eureka servers render a one-element array as a bare object.
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse_instance(doc: Mapping[str, Any]) -> Instance | None:
    """Turn one Eureka instance document into an :class:`Instance`; ``None`` if unusable."""
    try:
        service = str(doc.get("app") or "").lower()
        host = str(doc.get("ipAddr") or doc.get("hostName") or "")
        port_doc = doc.get("port")
        port = int(port_doc.get("$", 0) if isinstance(port_doc, Mapping) else port_doc or 0)
        instance_id = str(doc.get("instanceId") or doc.get("hostName") or "")
    except (TypeError, ValueError):
        return None
    if not service or not host or not instance_id:
        return None
    try:
        status = Status(str(doc.get("status", "UNKNOWN")).upper())
    except ValueError:
        status = Status.UNKNOWN
    raw = doc.get("metadata")
    metadata = {
        str(k): str(v)
        for k, v in (raw.items() if isinstance(raw, Mapping) else ())
        if not str(k).startswith("@")
    }
    promoted = {key: metadata.pop(key, "") for key in _PROMOTED}
    return Instance(
        service=service,
        instance_id=instance_id,
        host=host,
        port=port,
        status=status,
        metadata=metadata,
        **promoted,
    )


def instance_documents(doc: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield ``(application name, instance document)`` from an ``applications`` document."""
    apps = doc.get("applications") or {}
    for app in _as_list(apps.get("application")):
        if not isinstance(app, Mapping):
            continue
        name = str(app.get("name") or "")
        for item in _as_list(app.get("instance")):
            if isinstance(item, Mapping):
                yield name, item


def parse_applications(doc: Mapping[str, Any]) -> list[tuple[str, Instance]]:
    """Return ``(actionType, instance)`` pairs from an ``applications`` JSON document."""
    found: list[tuple[str, Instance]] = []
    for _, item in instance_documents(doc):
        instance = parse_instance(item)
        if instance is not None:
            found.append((str(item.get("actionType") or "ADDED").upper(), instance))
    return found


def apps_hashcode(instances: Iterable[Instance]) -> str:
    """Return Eureka's apps hashcode (``STATUS_count_`` per status, sorted)."""
    counts: dict[str, int] = {}
    for instance in instances:
        counts[instance.status.value] = counts.get(instance.status.value, 0) + 1
    return "".join(f"{status}_{counts[status]}_" for status in sorted(counts))


def _index(table: Mapping[str, Instance]) -> dict[str, tuple[Instance, ...]]:
    grouped: dict[str, list[Instance]] = {}
    for instance in table.values():
        if instance.status is Status.UP:
            grouped.setdefault(instance.service, []).append(instance)
    return {
        service: tuple(sorted(found, key=lambda i: i.instance_id))
        for service, found in grouped.items()
    }


class StaticDiscovery:
    """A fixed set of instances: for tests, and for running without a registry."""

    def __init__(self, instances: Iterable[Instance] = ()) -> None:
        self._table = {i.instance_id: i for i in instances}
        self._by_service = _index(self._table)
        self.own: Instance | None = None

    def set(self, instances: Iterable[Instance]) -> None:
        """Replace every instance."""
        self._table = {i.instance_id: i for i in instances}
        self._by_service = _index(self._table)

    def instances(self, service: str) -> Sequence[Instance]:
        """Return the UP instances of ``service``."""
        return self._by_service.get(service.lower(), _UP_ONLY)

    async def start(self, own: Instance | None) -> None:
        """Remember ``own``; a static set has nothing to register with."""
        self.own = own

    async def stop(self) -> None:
        """Forget ``own``."""
        self.own = None

    async def set_status(self, status: Status) -> None:
        """Record the status ``own`` would advertise."""
        if self.own is not None:
            self.own = dataclasses.replace(self.own, status=status)


_JSON_HEADERS = {"Accept": "application/json"}
_NO_HEADERS: Mapping[str, str] = {}


def _header(headers: Mapping[str, str], name: str) -> str:
    # aiohttp's headers are case-insensitive already; a plain dict (a test's) may not be.
    found = headers.get(name)
    if found is None:
        found = next((v for k, v in headers.items() if k.lower() == name), "")
    return found


class RegistryDiscovery:
    """Register with the registry, heartbeat, and resolve from a local copy of it.

    Resolution never touches the network: ``instances()`` reads a dict of tuples
    rebuilt after each refresh. While the registry is down the last copy stays.
    Given several registry URLs, every call goes to the one that answered last and
    moves on to the next when it does not answer (see :class:`Failover`).
    """

    def __init__(
        self,
        registry_url: str | Sequence[str],
        *,
        fetch_interval: float = 5.0,
        renewal_interval: float = 30.0,
        lease_duration: float = 90.0,
        request_timeout: float = 2.0,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
        full_fetch_every: int = 12,
        delta_horizon: float = 90.0,
        failback_after: float = 30.0,
    ) -> None:
        # An empty setting still makes a client: one that never reaches a registry.
        self.registry_urls = split_registry_urls(registry_url) or ("",)
        self._failover = Failover(self.registry_urls, failback_after=failback_after, clock=clock)
        self.fetch_interval = fetch_interval
        self.renewal_interval = renewal_interval
        self.lease_duration = lease_duration
        self.request_timeout = request_timeout
        # Without a transport given, the client keeps a pool of its own and closes it at stop.
        self._own_pool: HttpPool | None = None
        if transport is None:
            transport = self._own_pool = HttpPool()
        self._transport: Transport = transport
        self._clock = clock
        self._background = background
        self._full_every = max(1, full_fetch_every)
        # A delta only covers the registry's retention window (180 s by default):
        # after a longer gap, fetch everything instead.
        self._delta_horizon = delta_horizon
        self._own: Instance | None = None
        self._registered = False
        self._table: dict[str, Instance] = {}
        self._by_service: dict[str, tuple[Instance, ...]] = {}
        self._etag = ""
        self._have_copy = False
        self._last_ok: float | None = None
        self._refreshes = 0
        self._reachable = True
        # Set when calls moved to another registry: its delta log is not the one we
        # followed, so the next refresh fetches everything.
        self._moved = False
        self._tasks: list[asyncio.Task[None]] = []
        self._refresh_soon = asyncio.Event()

    @classmethod
    def from_settings(cls, settings: ServiceSettings, **overrides: Any) -> RegistryDiscovery:
        """Build from ``MATINEE_REGISTRY_URL`` and the lease settings."""
        options: dict[str, Any] = {
            "fetch_interval": settings.registry_fetch_interval,
            "renewal_interval": settings.lease_renewal_interval,
            "lease_duration": settings.lease_duration,
            "failback_after": settings.registry_failback_after,
        }
        options.update(overrides)
        return cls(settings.registry_url, **options)

    @property
    def registry_url(self) -> str:
        """Return the registry URL calls go to now."""
        return self._failover.current

    # -- Resolver --------------------------------------------------------------

    def instances(self, service: str) -> Sequence[Instance]:
        """Return the UP instances of ``service`` from the local copy (case-insensitive)."""
        found = self._by_service.get(service)
        if found is None:
            found = self._by_service.get(service.lower(), _UP_ONLY)
            if not found:
                # A miss usually means the copy predates the callee's registration (the
                # whole fleet starts at once): refresh now rather than at the next tick.
                self._refresh_soon.set()
        return found

    def all_instances(self) -> list[Instance]:
        """Return every known instance, whatever its status."""
        return sorted(self._table.values(), key=lambda i: (i.service, i.instance_id))

    @property
    def registered(self) -> bool:
        """Tell whether the registry accepted this instance's registration."""
        return self._registered

    def staleness(self) -> float | None:
        """Return seconds since the last successful refresh (``None`` if never)."""
        return None if self._last_ok is None else self._clock() - self._last_ok

    # -- lifecycle ---------------------------------------------------------------

    async def start(self, own: Instance | None) -> None:
        """Register ``own`` and fetch the registry once; neither failure fails start."""
        self._own = own
        first: list[Any] = [self.refresh()]
        if own is not None:
            first.append(self.register())
        await asyncio.gather(*first)
        if self._background:
            if own is not None:
                self._tasks.append(asyncio.create_task(self._heartbeats()))
            self._tasks.append(asyncio.create_task(self._refreshes_loop()))

    async def stop(self) -> None:
        """Stop background tasks and cancel the registration (best effort, fast)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._own is not None and self._registered:
            own = self._own
            with contextlib.suppress(OSError, TimeoutError):
                await self._call(
                    "DELETE", f"/apps/{own.service.upper()}/{own.instance_id}", time_limit=1.0
                )
            self._registered = False
        if self._own_pool is not None:
            await self._own_pool.close()
            # A closed pool refuses requests; one that opens nothing until used serves a restart.
            self._transport = self._own_pool = HttpPool()

    async def set_status(self, status: Status) -> None:
        """Advertise a new status by registering again, as Eureka clients do."""
        if self._own is None or self._own.status == status:
            return
        self._own = dataclasses.replace(self._own, status=status)
        await self.register()

    # -- one step each (the loops call these; tests call them directly) ----------------

    async def register(self) -> bool:
        """Send this instance's registration; ``True`` once the registry accepted it."""
        own = self._own
        if own is None:
            return False
        body = orjson.dumps(
            eureka_registration(
                own, renewal_interval=self.renewal_interval, lease_duration=self.lease_duration
            )
        )
        try:
            reply = await self._call(
                "POST",
                f"/apps/{own.service.upper()}",
                body=body,
                headers={"Content-Type": "application/json"},
            )
        except (OSError, TimeoutError) as exc:
            self._note_unreachable(exc)
            return False
        self._registered = reply.status in (200, 204)
        if not self._registered:
            log.warning("registry refused registration: %s %s", reply.status, reply.body[:300])
        return self._registered

    async def renew(self) -> bool:
        """Send one heartbeat; re-register when the registry no longer knows us."""
        own = self._own
        if own is None:
            return False
        try:
            reply = await self._call("PUT", f"/apps/{own.service.upper()}/{own.instance_id}")
        except (OSError, TimeoutError) as exc:
            self._note_unreachable(exc)
            return False
        if reply.status == 404:
            self._registered = False
            return await self.register()
        return reply.status == 200

    async def refresh(self) -> bool:
        """Bring the local copy up to date by delta, or by a full fetch when needed."""
        self._refreshes += 1
        last = self._last_ok
        stale = last is None or self._clock() - last > self._delta_horizon
        moved, self._moved = self._moved, False
        if not self._have_copy or stale or moved or self._refreshes % self._full_every == 0:
            return await self.fetch_full()
        return await self.fetch_delta()

    async def fetch_full(self) -> bool:
        """Fetch the whole registry (``If-None-Match``: unchanged costs a 304)."""
        headers = dict(_JSON_HEADERS)
        if self._etag and self._have_copy:
            headers["If-None-Match"] = self._etag
        reply = await self._get("/apps", headers)
        if reply is None:
            return False
        if reply.status == 304:
            self._mark_ok()
            return True
        if reply.status != 200:
            log.warning("registry answered %s to a full fetch", reply.status)
            return False
        try:
            pairs = parse_applications(orjson.loads(reply.body))
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            log.warning("registry sent an unreadable registry document")
            return False
        self._table = {i.instance_id: i for _, i in pairs}
        self._by_service = _index(self._table)
        self._etag = _header(reply.headers, "etag")
        self._have_copy = True
        self._mark_ok()
        return True

    async def fetch_delta(self) -> bool:
        """Apply the registry's recent changes; fall back to a full fetch on mismatch."""
        reply = await self._get("/apps/delta", _JSON_HEADERS)
        if reply is None:
            return False
        if reply.status != 200:
            return await self.fetch_full()
        try:
            doc = orjson.loads(reply.body)
            pairs = parse_applications(doc)
            remote_hash = str(doc["applications"].get("apps__hashcode", ""))
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
            return await self.fetch_full()
        if pairs:
            table = dict(self._table)
            for action, instance in pairs:
                if action == "DELETED":
                    table.pop(instance.instance_id, None)
                else:
                    table[instance.instance_id] = instance
            self._table = table
            self._by_service = _index(table)
        if apps_hashcode(self._table.values()) != remote_hash:
            # Our copy drifted (a missed delta): only a full fetch can repair it.
            self._etag = ""
            return await self.fetch_full()
        self._mark_ok()
        return True

    # -- internals ---------------------------------------------------------------

    async def _heartbeats(self) -> None:
        backoff = 0.5
        while True:
            if not self._registered:
                if not await self.register():
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.renewal_interval)
                    continue
                backoff = 0.5
            await asyncio.sleep(self.renewal_interval)
            await self.renew()

    async def _refreshes_loop(self) -> None:
        started = self._clock()
        while True:
            # Wake at the fetch interval, or early after a miss, but never more than
            # once per _MIN_REFRESH_GAP so a caller of an absent service cannot flood it.
            # Just after start the whole fleet is still registering: look more often.
            warming = self._clock() - started < _WARMUP
            interval = min(self.fetch_interval, 0.5) if warming else self.fetch_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh_soon.wait(), interval)
            self._refresh_soon.clear()
            try:
                await self.refresh()
            except Exception:  # the copy we have is still good; try again next time
                log.exception("registry refresh failed")
            await asyncio.sleep(_MIN_REFRESH_GAP)

    async def _get(self, path: str, headers: Mapping[str, str]) -> Response | None:
        try:
            return await self._call("GET", path, headers=headers)
        except (OSError, TimeoutError) as exc:
            self._note_unreachable(exc)
            return None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        time_limit: float | None = None,
    ) -> Response:
        # Raises TimeoutError, or TransportError (an OSError) when no registry is reachable.
        failover = self._failover
        failure: OSError | TimeoutError | None = None
        answer: Response | None = None
        for index in failover.order():
            try:
                reply = await self._transport.send(
                    method,
                    failover.urls[index] + path,
                    headers=headers or _NO_HEADERS,
                    body=body,
                    timeout=time_limit or self.request_timeout,
                )
            except (OSError, TimeoutError) as exc:
                failure = exc
                continue
            if reply.status >= 500 and len(failover.urls) > 1:
                answer = answer or reply  # a registry in trouble: another may do better
                continue
            self._answered(index)
            return reply
        if answer is not None:
            return answer
        assert failure is not None
        raise failure

    def _answered(self, index: int) -> None:
        previous = self._failover.current
        if self._failover.answered(index):
            self._moved = True
            self._etag = ""
            if index == 0:
                log.info("back to the first registry, %s", self._failover.current)
            else:
                log.warning(
                    "registry at %s did not answer; using %s", previous, self._failover.current
                )

    def _mark_ok(self) -> None:
        self._last_ok = self._clock()
        if not self._reachable:
            log.info("registry reachable again at %s", self.registry_url)
            self._reachable = True

    def _note_unreachable(self, exc: BaseException) -> None:
        # Log the transition, not every failed attempt: an outage must not flood the logs.
        if self._reachable:
            log.warning(
                "registry unreachable at %s (%s); resolving from the last known copy",
                ", ".join(self.registry_urls),
                exc or type(exc).__name__,
            )
            self._reachable = False
