"""Single flight: however many callers want the same key at once, the work runs once.

Callers get the one shared future; the work is a task of its own, so a caller that
gives up (its client went away) never cancels it for the others. A failure reaches
every waiter and is forgotten with the flight: the next caller starts afresh.

| call | effect |
|---|---|
| ``flights = SingleFlight()`` | one per node |
| ``future = flights.join(key, lambda: fill(key))`` | the running flight, or a new one |
| ``flights.started`` | how many flights ever ran (one per fill) |
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """At most one running task per key."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[T]] = {}
        self.started = 0

    def __contains__(self, key: object) -> bool:
        return key in self._running

    def __len__(self) -> int:
        return len(self._running)

    def join(self, key: str, work: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """Return the flight for ``key``, starting ``work()`` if none runs."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(work())
            self.started += 1
            self._running[key] = task
            task.add_done_callback(lambda _t: self._landed(key, task))
        return task

    async def wait(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        """Join the flight for ``key`` and await its result (cancelling only this wait)."""
        return await asyncio.shield(self.join(key, work))

    def _landed(self, key: str, task: asyncio.Task[T]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here: a flight nobody waits for must not warn

    async def cancel_all(self) -> None:
        """Cancel every running flight (shutdown)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
