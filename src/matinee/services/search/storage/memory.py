"""An in-process title feed: tests and benchmarks hand titles to search without NATS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from matinee.services.search.domain.model import TitleDoc
from matinee.services.search.domain.ports import Apply

__all__ = ["MemoryTitleFeed"]


class MemoryTitleFeed:
    """A feed whose stream is a list: ``await feed.add([doc])`` appends and delivers."""

    def __init__(self, docs: Iterable[TitleDoc] = ()) -> None:
        self.stream: list[TitleDoc] = list(docs)
        self._apply: Apply | None = None
        self._wake = asyncio.Event()

    async def run(self, after: int, apply: Apply) -> None:
        """Deliver the stream after position ``after``, then each added title, forever."""
        self._apply = apply
        position = after
        while True:
            self._wake.clear()
            batch = self.stream[position:]
            position = len(self.stream)
            await apply(batch, position, True)
            await self._wake.wait()

    async def add(self, docs: Iterable[TitleDoc]) -> None:
        """Append titles to the stream and wake the consumer."""
        self.stream.extend(docs)
        self._wake.set()
        await asyncio.sleep(0)

    async def check(self) -> None:
        """Always ready."""
