"""The home page: rows from several sources, each with its own deadline and fallback.

Pure orchestration (no HTTP here): the API layer hands in one ``RowSource`` per
source; :func:`assemble_home` runs them concurrently, gives each its own timeout, and
when one fails or is late serves the rows it last produced for the same audience
(the fallback), naming it in ``degraded``. A page is never refused because a source
is down: it just has fewer, or older, rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HomePage", "LastGoodRows", "Row", "RowSource", "assemble_home"]

log = logging.getLogger("matinee.gateway.home")


@dataclass(frozen=True, slots=True)
class Row:
    """One horizontal row of the home page."""

    id: str
    title: str
    items: Sequence[Mapping[str, Any]]


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


class LastGoodRows:
    """Rows each source last produced, per audience: the fallback when it fails."""

    def __init__(self, max_entries: int = 256) -> None:
        self._rows: dict[tuple[str, str], Sequence[Row]] = {}
        self._max = max_entries

    def remember(self, source: str, audience: str, rows: Sequence[Row]) -> None:
        """Keep ``rows`` as the latest good answer of ``source`` for ``audience``."""
        if len(self._rows) >= self._max and (source, audience) not in self._rows:
            self._rows.pop(next(iter(self._rows)))
        self._rows[(source, audience)] = rows

    def recall(self, source: str, audience: str) -> Sequence[Row]:
        """Return the last good rows, or none."""
        return self._rows.get((source, audience), ())


async def _run(source: RowSource) -> Sequence[Row]:
    async with asyncio.timeout(source.timeout):
        return await source.fetch()


async def assemble_home(
    sources: Sequence[RowSource], *, audience: str, last_good: LastGoodRows
) -> HomePage:
    """Run every source at once; failed or late ones fall back to their last good rows."""
    outcomes = await asyncio.gather(*(_run(s) for s in sources), return_exceptions=True)
    rows: list[Row] = []
    degraded: list[str] = []
    seen: set[str] = set()
    for source, outcome in zip(sources, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            degraded.append(source.name)
            log.warning(
                "home source %s failed: %s", source.name, type(outcome).__name__ or "error"
            )
            produced = last_good.recall(source.name, audience)
        else:
            produced = outcome
            last_good.remember(source.name, audience, produced)
        for row in produced:
            # Two sources may offer the same row (a list that is also a genre): show it once.
            if row.id not in seen and row.items:
                seen.add(row.id)
                rows.append(row)
    return HomePage(rows=rows, degraded=degraded)
