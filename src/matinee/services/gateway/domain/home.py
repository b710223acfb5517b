"""The home page: rows from several sources, each with its own deadline and fallback.

Pure orchestration (no HTTP here): the API layer hands in one ``RowSource`` per
source; :func:`assemble_home` runs them concurrently, gives each its own timeout, and
when one fails or is late serves the rows it last produced for the same audience
(the fallback), naming it in ``degraded``. A page is never refused because a source
is down: it just has fewer, or older, rows.

Rows are the same for everyone in an audience (no personalisation yet), so a
source's rows are reused while fresh (``RowCache.fresh_for`` seconds) and one fetch
serves every request that arrives while it runs (single flight): fifty viewers
opening the app cost a source one call, not fifty.
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


class RowCache:
    """Each source's latest rows per audience: reused while fresh, the fallback after."""

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

    def fresh(self, source: str, audience: str) -> Sequence[Row] | None:
        """Return the rows if fetched less than ``fresh_for`` seconds ago."""
        entry = self._entries.get((source, audience))
        if entry is not None and self._clock() - entry.fetched_at < self.fresh_for:
            return entry.rows
        return None

    async def fetch(self, source: RowSource, audience: str) -> Sequence[Row]:
        """Return fresh rows, fetching once for all concurrent callers within the deadline."""
        rows = self.fresh(source.name, audience)
        if rows is not None:
            return rows
        key = (source.name, audience)
        running = self._in_flight.get(key)
        if running is None:
            running = asyncio.ensure_future(self._fetch(source, audience))
            self._in_flight[key] = running
            running.add_done_callback(lambda done: self._settle(key, done))
        # shield: one caller's deadline or disconnect must not cancel the shared fetch.
        async with asyncio.timeout(source.timeout):
            return await asyncio.shield(running)

    def _settle(self, key: tuple[str, str], done: asyncio.Future[Sequence[Row]]) -> None:
        self._in_flight.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here: every waiter may have given up already

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
        *(cache.fetch(s, audience) for s in sources), return_exceptions=True
    )
    rows: list[Row] = []
    degraded: list[str] = []
    seen: set[str] = set()
    for source, outcome in zip(sources, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            degraded.append(source.name)
            log.warning("home source %s failed: %s", source.name, type(outcome).__name__)
            produced = cache.recall(source.name, audience)
        else:
            produced = outcome
        for row in produced:
            # Two sources may offer the same row (a list that is also a genre): show it once.
            if row.id not in seen and row.items:
                seen.add(row.id)
                rows.append(row)
    return HomePage(rows=rows, degraded=degraded)
