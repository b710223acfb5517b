"""The home page: rows from several sources, each with its own deadline and fallback.

Pure orchestration (no HTTP here): the API layer hands in one ``RowSource`` per
source; :func:`assemble_home` runs them concurrently, gives each its own timeout, and
when one fails or is late serves the rows it last produced for the same audience
(the fallback), naming it in ``degraded``. A page is never refused because a source
is down: it just has fewer, or older, rows.

Rows are the same for everyone in an audience (no personalisation yet), so a
source's rows are reused while fresh (``RowCache.fresh_for`` seconds), refreshed in
the background when stale, and one fetch serves every request that arrives while it
runs (single flight): fifty viewers opening the app cost a source one call, and a
hung source costs viewers nothing once its rows are known.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HomePage", "Row", "RowCache", "RowSource", "assemble_home"]

log = logging.getLogger("matinee.gateway.home")


@dataclass(frozen=True, slots=True)
class Row:
    """One horizontal row of the home page."""

    id: str
    title: str
    items: Sequence[Any]


@dataclass(frozen=True, slots=True)
class RowSource:
    """A named producer of rows with its own deadline."""

    name: str
    fetch: Callable[[], Awaitable[Sequence[Row]]]
    timeout: float


@dataclass(frozen=True, slots=True)
class HomePage:
    """The rows to show, and which sources were left out or served from fallback."""

    rows: Sequence[Row]
    degraded: Sequence[str] = field(default_factory=tuple)


@dataclass(slots=True)
class _Entry:
    rows: Sequence[Row]
    fetched_at: float
    # Whether the latest attempt to refresh these rows succeeded.
    healthy: bool = True


class RowCache:
    """Each source's latest rows per audience: fresh ones reused, stale ones revalidated.

    A page never waits for a source it already has rows for: stale rows are served at
    once while one background fetch refreshes them (stale-while-revalidate), and a
    source whose last refresh failed is reported degraded until one succeeds. Only
    an audience's first page waits for a source, and never beyond its deadline.
    """

    def __init__(
        self,
        fresh_for: float = 5.0,
        max_entries: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fresh_for = fresh_for
        self._max = max_entries
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._in_flight: dict[tuple[str, str], asyncio.Future[Sequence[Row]]] = {}

    def remember(self, source: str, audience: str, rows: Sequence[Row]) -> None:
        """Keep ``rows`` as the latest good answer of ``source`` for ``audience``."""
        key = (source, audience)
        if len(self._entries) >= self._max and key not in self._entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = _Entry(rows, self._clock())

    def recall(self, source: str, audience: str) -> Sequence[Row]:
        """Return the last good rows however old, or none."""
        entry = self._entries.get((source, audience))
        return entry.rows if entry is not None else ()

    async def get(self, source: RowSource, audience: str) -> tuple[Sequence[Row], bool]:
        """Return the source's rows and whether the source is healthy.

        Raises when there are no rows yet and the first fetch fails or misses its deadline.
        """
        key = (source.name, audience)
        entry = self._entries.get(key)
        if entry is None:
            # shield: one caller's deadline must not cancel the fetch others share.
            async with asyncio.timeout(source.timeout):
                rows = await asyncio.shield(self._start(source, audience))
            return rows, True
        if self._clock() - entry.fetched_at >= self.fresh_for:
            self._start(source, audience)  # revalidate in the background
        return entry.rows, entry.healthy

    def _start(self, source: RowSource, audience: str) -> asyncio.Future[Sequence[Row]]:
        key = (source.name, audience)
        running = self._in_flight.get(key)
        if running is None:
            running = asyncio.ensure_future(self._fetch(source, audience))
            self._in_flight[key] = running
            running.add_done_callback(lambda done: self._settle(key, done))
        return running

    def _settle(self, key: tuple[str, str], done: asyncio.Future[Sequence[Row]]) -> None:
        self._in_flight.pop(key, None)
        if done.cancelled():
            return
        failure = done.exception()  # retrieved here: every waiter may have given up already
        entry = self._entries.get(key)
        if failure is not None and entry is not None:
            entry.healthy = False
            log.warning("home source %s failed: %s", key[0], type(failure).__name__)

    async def _fetch(self, source: RowSource, audience: str) -> Sequence[Row]:
        async with asyncio.timeout(source.timeout):
            rows = await source.fetch()
        self.remember(source.name, audience, rows)
        return rows


async def assemble_home(
    sources: Sequence[RowSource], *, audience: str, cache: RowCache
) -> HomePage:
    """Run every source at once; failed or late ones fall back to their last good rows."""
    outcomes = await asyncio.gather(
        *(cache.get(s, audience) for s in sources), return_exceptions=True
    )
    rows: list[Row] = []
    degraded: list[str] = []
    seen: set[str] = set()
    for source, outcome in zip(sources, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            degraded.append(source.name)
            produced: Sequence[Row] = ()
        else:
            produced, healthy = outcome
            if not healthy:
                degraded.append(source.name)
        for row in produced:
            # Two sources may offer the same row (a list that is also a genre): show it once.
            if row.id not in seen and row.items:
                seen.add(row.id)
                rows.append(row)
    return HomePage(rows=rows, degraded=degraded)
