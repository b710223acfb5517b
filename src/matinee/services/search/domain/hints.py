"""The personal hint of a request: a profile's :class:`Taste`, cached per (account, profile).

Suggest runs on every keystroke, so the history is read at most once per ``ttl`` seconds
per profile and a cached hint costs a dict lookup:

- **fresh** (younger than ``ttl``): answered from the cache;
- **stale** (younger than ``keep``): answered from the cache while one background read
  refreshes it, so typing never waits on the database;
- **missing**: one read (shared by concurrent requests) is waited for at most ``wait``
  seconds; past that the request goes without a hint and the read still fills the cache.

A history that fails (its database down) means no hint, never an error: the failure is
logged once and cached like an answer for ``ttl``. The key holds the *account* the
signed identity names, so a profile id of another account finds nothing.

| usage | effect |
|---|---|
| ``hints = Hints(history, live_view, ttl=5, wait=0.05)`` | an empty cache |
| ``await hints.taste("acc-1", "p1")`` | a ``Taste``, or None for no hint |
| ``await hints.close()`` | cancel reads in flight |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from matinee.services.search.domain.live import IndexView
from matinee.services.search.domain.model import Taste
from matinee.services.search.domain.ports import WatchHistory
from matinee.services.search.domain.taste import MAX_TITLES, taste_of

__all__ = ["Hints", "genres_in"]

log = logging.getLogger("matinee.search.hints")

Key = tuple[str, str]


def genres_in(view: IndexView) -> Callable[[int], Sequence[str]]:
    """Return a lookup of a title's genres in ``view`` (() for a title it does not hold)."""
    indexes = (view.overlay, view.base)  # an overlay entry is the newer one

    def genres(title_id: int) -> Sequence[str]:
        for index in indexes:
            n = index.by_id.get(title_id)
            if n is not None:
                return index.docs[n].genres
        return ()

    return genres


@dataclass(frozen=True, slots=True)
class _Entry:
    taste: Taste | None
    loaded_at: float  # monotonic


class Hints:
    """Per-(account, profile) tastes read from the history, cached for ``ttl`` seconds."""

    def __init__(
        self,
        history: WatchHistory,
        view: Callable[[], IndexView],
        *,
        ttl: float,
        wait: float,
        keep: float | None = None,
        max_profiles: int = 4096,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.history = history
        self.ttl = ttl
        self.wait = wait
        # A hint older than this is not served stale: the profile stopped typing long ago.
        self.keep = max(keep if keep is not None else 12 * ttl, ttl)
        self.max_profiles = max_profiles
        self._view = view
        self._clock = clock
        self._now = now
        # Insertion order is load order: the oldest entry is always the first.
        self._entries: dict[Key, _Entry] = {}
        self._loading: dict[Key, asyncio.Task[Taste | None]] = {}
        self._failing = False

    async def taste(self, account_id: str, profile_id: str) -> Taste | None:
        """Return the profile's hint; None when it has none or the history cannot tell."""
        key = (account_id, profile_id)
        entry = self._entries.get(key)
        if entry is not None:
            age = self._clock() - entry.loaded_at
            if age < self.ttl:
                return entry.taste
            if age < self.keep:
                self._load(key)
                return entry.taste
        task = self._load(key)
        done, _ = await asyncio.wait((task,), timeout=self.wait)
        return task.result() if done else None

    def _load(self, key: Key) -> asyncio.Task[Taste | None]:
        task = self._loading.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._read(key))
            self._loading[key] = task
            task.add_done_callback(lambda _: self._loading.pop(key, None))
        return task

    async def _read(self, key: Key) -> Taste | None:
        try:
            rows = await self.history.recent(key[0], key[1], MAX_TITLES)
        except Exception as exc:  # a database that is down or gone: no hint, once logged
            if not self._failing:
                log.warning("viewing history unavailable; answering without hints: %s", exc)
            self._failing = True
            taste = None
        else:
            if self._failing:
                log.info("viewing history answers again; hints are back")
            self._failing = False
            taste = taste_of(rows, genres_in(self._view()), now=self._now()) or None
        self._remember(key, taste)
        return taste

    def _remember(self, key: Key, taste: Taste | None) -> None:
        now = self._clock()
        entries = self._entries
        entries.pop(key, None)
        entries[key] = _Entry(taste, now)
        while entries:
            oldest_key, oldest = next(iter(entries.items()))
            if len(entries) <= self.max_profiles and now - oldest.loaded_at < self.keep:
                break
            del entries[oldest_key]

    async def close(self) -> None:
        """Cancel the reads in flight."""
        tasks = list(self._loading.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
