"""The node: its cache, the single-flight fills behind it, its load and its prefill jobs.

| call | does |
|---|---|
| ``node.lookup(key)`` | the cached object, or None (a miss) |
| ``node.fill(key, asset_id, path)`` | the one flight filling ``key`` (a future) |
| ``node.prefill(["a1", "a2"], window_s=600, rate_bytes_per_s=25e6)`` | a :class:`PrefillJob` |
| ``node.status()`` | what ``GET /node`` reports to steering |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from matinee.services.cdn.domain import (
    LoadMeter,
    Origin,
    OriginUnavailable,
    Pacer,
    SingleFlight,
    UnsafePath,
    object_key,
    prefill_plan,
)
from matinee.services.cdn.storage import CachedObject, DiskCache

__all__ = ["CdnNode", "NodeIdentity", "PrefillJob"]

log = logging.getLogger("matinee.cdn")

# Prefill jobs remembered for status queries.
_JOBS_KEPT = 50


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """Where the node sits: what steering matches a client against."""

    node_id: str
    region: str
    isp: str


@dataclass(slots=True)
class PrefillJob:
    """One proactive fill: progress a caller can poll."""

    job_id: str
    assets: list[str]
    window_s: float
    rate_bytes_per_s: float
    state: str = "running"  # running | done | window_closed | failed
    planned: int = 0
    filled: int = 0
    cached: int = 0
    failed: int = 0
    bytes_filled: int = 0
    missing_assets: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the job as the API shows it."""
        return {
            "job_id": self.job_id,
            "assets": self.assets,
            "window_s": self.window_s,
            "rate_mbps": round(self.rate_bytes_per_s * 8 / 1e6, 3),
            "state": self.state,
            "planned": self.planned,
            "filled": self.filled,
            "already_cached": self.cached,
            "failed": self.failed,
            "bytes_filled": self.bytes_filled,
            "missing_assets": self.missing_assets,
        }


class CdnNode:
    """A cache in front of an origin, filled once per object however many ask."""

    def __init__(
        self,
        identity: NodeIdentity,
        cache: DiskCache,
        origin: Origin,
        *,
        meter: LoadMeter | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.identity = identity
        self.cache = cache
        self.origin = origin
        self.meter = meter or LoadMeter()
        self.flights: SingleFlight[CachedObject | None] = SingleFlight()
        self.jobs: dict[str, PrefillJob] = {}
        self._clock = clock
        self._sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()

    # -- serving ---------------------------------------------------------------------------

    def lookup(self, key: str) -> CachedObject | None:
        """Return the cached object at ``key``, or None."""
        return self.cache.get(key)

    def fill(self, key: str, asset_id: str, path: str) -> asyncio.Future[CachedObject | None]:
        """Return the flight filling ``key`` from the origin (None: the origin has none)."""
        return self.flights.join(key, lambda: self._fill(key, asset_id, path))

    async def _fill(self, key: str, asset_id: str, path: str) -> CachedObject | None:
        cached = self.cache.get(key)  # filled while this flight was being set up
        if cached is not None:
            return cached
        body = await self.origin.fetch(asset_id, path)
        if body is None:
            return None
        return await self.cache.store(key, body)

    def status(self) -> dict[str, Any]:
        """Return the node's health, load and inventory for steering."""
        ident = self.identity
        return {
            "node_id": ident.node_id,
            "region": ident.region,
            "isp": ident.isp,
            "healthy": self.cache.healthy(),
            "load": {
                "active_requests": self.meter.active,
                "bytes_per_s": round(self.meter.bytes_per_s(), 1),
            },
            "capacity_bytes": self.cache.capacity_bytes,
            "used_bytes": self.cache.used_bytes,
            "assets": self.cache.assets(),
        }

    # -- prefill ---------------------------------------------------------------------------

    def prefill(
        self, assets: Sequence[str], *, window_s: float, rate_bytes_per_s: float
    ) -> PrefillJob:
        """Start filling ``assets`` ahead of demand; return the job (it runs in the background)."""
        job = PrefillJob(secrets.token_hex(6), list(assets), window_s, rate_bytes_per_s)
        self.jobs[job.job_id] = job
        while len(self.jobs) > _JOBS_KEPT:
            self.jobs.pop(next(iter(self.jobs)))
        task = asyncio.get_running_loop().create_task(self._run_prefill(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run_prefill(self, job: PrefillJob) -> None:
        start = self._clock()
        deadline = start + job.window_s
        pacer = Pacer(job.rate_bytes_per_s, start)
        try:
            for asset_id in job.assets:
                plan = await self._plan(asset_id)
                if plan is None:
                    job.missing_assets.append(asset_id)
                    continue
                job.planned += len(plan)
                for path in plan:
                    if self._clock() >= deadline:
                        job.state = "window_closed"
                        return
                    try:
                        key = object_key(asset_id, path)
                    except UnsafePath:
                        job.failed += 1
                        continue
                    if self.cache.get(key) is not None:
                        job.cached += 1
                        continue
                    try:
                        obj = await asyncio.shield(self.fill(key, asset_id, path))
                    except OriginUnavailable as exc:
                        log.warning("prefill of %s failed: %s", key, exc.detail)
                        job.failed += 1
                        continue
                    if obj is None:
                        job.failed += 1
                        continue
                    job.filled += 1
                    job.bytes_filled += obj.size
                    delay = pacer.delay_after(obj.size, self._clock())
                    if delay > 0:
                        await self._sleep(min(delay, max(0.0, deadline - self._clock())))
            job.state = "done"
        except Exception:
            log.exception("prefill %s failed", job.job_id)
            job.state = "failed"

    async def _plan(self, asset_id: str) -> list[str] | None:
        try:
            key = object_key(asset_id, "ladder.json")
        except UnsafePath:
            return None
        try:
            obj = self.cache.get(key) or await asyncio.shield(
                self.fill(key, asset_id, "ladder.json")
            )
        except OriginUnavailable:
            return None
        if obj is None:
            return None
        raw = obj.body
        if raw is None:
            raw = await asyncio.to_thread(_read, obj.path)
        try:
            ladder = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return prefill_plan(ladder) if isinstance(ladder, dict) else None

    async def close(self) -> None:
        """Stop prefill jobs and running fills."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flights.cancel_all()


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()
