"""Composition root of search: wiring only, plus the tasks that keep the index and history.

The viewing history (the personal hint) is not needed to answer: its database opens and
playback is followed in the background, and it is not a readiness check. With the history
down, suggest and search answer without a hint (see ``domain/hints.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from matinee.platform.discovery import Discovery, RegistryDiscovery
from matinee.platform.events import DeferredBus, EventBus, Subscription
from matinee.platform.service import ReadinessCheck, create_service_app
from matinee.platform.storage import Database
from matinee.services.search import SPEC
from matinee.services.search.api import build_router
from matinee.services.search.domain.hints import Hints
from matinee.services.search.domain.index import TitleIndex
from matinee.services.search.domain.live import IndexView, LiveIndex
from matinee.services.search.domain.model import TitleDoc
from matinee.services.search.domain.ports import TitleFeed, WatchHistory
from matinee.services.search.settings import SearchSettings
from matinee.services.search.storage import (
    MIGRATIONS,
    JetStreamTitleFeed,
    SqlWatchHistory,
    follow_viewing,
)
from matinee.services.search.storage.viewing import EVENT_ID_RETENTION_S

__all__ = ["HistoryFollower", "Indexer", "create_app"]

log = logging.getLogger("matinee.search")


class Indexer:
    """Applies the feed to the live index: one full build on catch-up, overlays after."""

    def __init__(self, live: LiveIndex, *, publish_interval: float) -> None:
        self.live = live
        self.publish_interval = publish_interval
        self.caught_up = asyncio.Event()
        self._compacting: asyncio.Task[None] | None = None

    def view(self) -> IndexView:
        """Return the current view (one read of one reference)."""
        return self.live.view

    async def apply(self, docs: Sequence[TitleDoc], position: int, caught_up: bool) -> None:
        """Stage titles from the feed; build the whole index once the replay caught up."""
        self.live.stage(docs, position=position)
        if not self.caught_up.is_set() and caught_up:
            await self._compact()
            self.caught_up.set()
            log.info(
                "index built from the catalog stream",
                extra={"titles": len(self.live.view), "position": position},
            )

    async def check(self) -> None:
        """Raise until the first replay of the catalog stream is searchable."""
        if not self.caught_up.is_set():
            raise RuntimeError("replaying the catalog stream")

    async def publish_forever(self) -> None:
        """Make staged changes searchable every ``publish_interval`` seconds."""
        while True:
            await asyncio.sleep(self.publish_interval)
            if not self.caught_up.is_set():
                continue
            idle = self._compacting is None or self._compacting.done()
            if self.live.wants_compaction and idle:
                self._compacting = asyncio.create_task(self._compact())
            if self.live.dirty:
                self.live.publish()

    async def _compact(self) -> None:
        docs, token = self.live.compaction()
        # Built off the event loop; requests keep reading the old view until the swap.
        base = await asyncio.to_thread(TitleIndex, docs)
        self.live.install(base, token)
        # The index lives long: keep the collector from walking it (p99 of suggest).
        gc.freeze()

    async def stop(self) -> None:
        """Cancel a compaction in flight."""
        if self._compacting is not None:
            self._compacting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compacting


class HistoryFollower:
    """Opens the history's database, then follows playback into it; never on a request."""

    def __init__(
        self,
        history: WatchHistory,
        *,
        database: Database | None,
        events: EventBus | None,
        deferred: DeferredBus | None,
        retry_delay: float = 5.0,
        prune_every: float = 3600.0,
    ) -> None:
        self.history = history
        self.database = database
        self.events = events
        self.deferred = deferred
        self.retry_delay = retry_delay
        self.prune_every = prune_every
        self.subscription: Subscription | None = None

    async def run(self) -> None:
        """Start the database (retrying), subscribe (retrying), then prune old event ids."""
        if self.database is not None:
            await self.database.start(MIGRATIONS)  # logs one line if it cannot
            while not self.database.ready:
                await asyncio.sleep(self.retry_delay)
                with contextlib.suppress(Exception):
                    await self.database.check()  # retries the start
        if self.events is None:
            return
        connected = self.deferred is None
        while self.subscription is None:
            try:
                if not connected:
                    assert self.deferred is not None
                    await self.deferred.start()
                    connected = True
                self.subscription = await follow_viewing(self.events, self.history)
            except Exception as exc:  # NATS away: keep answering, follow once it is back
                log.warning("cannot follow playback events yet: %s; retrying", exc)
                await asyncio.sleep(self.retry_delay)
        if not isinstance(self.history, SqlWatchHistory):
            return
        while True:
            await asyncio.sleep(self.prune_every)
            try:
                await self.history.forget_events(before=time.time() - EVENT_ID_RETENTION_S)
            except Exception as exc:
                log.warning("pruning applied event ids failed: %s", exc)

    async def stop(self) -> None:
        """Stop the subscription (its position stays on the server) and disconnect."""
        if self.subscription is not None:
            with contextlib.suppress(Exception):
                await self.subscription.stop()
            self.subscription = None
        if self.deferred is not None:
            await self.deferred.close()
        if self.database is not None:
            await self.database.close()


def create_app(
    settings: SearchSettings | None = None,
    *,
    feed: TitleFeed | None = None,
    live: LiveIndex | None = None,
    discovery: Discovery | None = None,
    history: WatchHistory | None = None,
    events: EventBus | None = None,
) -> Starlette:
    """Build search; tests pass a ``MemoryTitleFeed``, an ``InMemoryBus``, a fake history."""
    settings = settings or SearchSettings()
    live = live or LiveIndex(compact_at=settings.search_compact_at)
    if feed is None and settings.nats_url:
        feed = JetStreamTitleFeed(settings.nats_url)
    if discovery is None and settings.port:
        discovery = RegistryDiscovery.from_settings(settings)
    indexer = Indexer(live, publish_interval=settings.search_publish_interval)
    database: Database | None = None
    if history is None:
        database = Database.for_service(
            SPEC.name, database_url=settings.database_url, data_dir=settings.data_dir
        )
        history = SqlWatchHistory(database)
    deferred: DeferredBus | None = None
    if events is None and settings.nats_url:
        events = deferred = DeferredBus(settings.nats_url, service=SPEC.name)
    follower = HistoryFollower(history, database=database, events=events, deferred=deferred)
    hints = Hints(
        history,
        indexer.view,
        ttl=settings.search_taste_ttl,
        wait=settings.search_taste_wait,
    )
    if feed is None:
        indexer.caught_up.set()  # nothing to replay: the given index is all there is
    readiness: dict[str, ReadinessCheck] = {"index": indexer.check}
    if feed is not None:
        readiness["events"] = feed.check

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(indexer.publish_forever(), name="search-publish"),
            asyncio.create_task(follower.run(), name="search-history"),
        ]
        if feed is not None:
            tasks.append(
                asyncio.create_task(feed.run(live.position, indexer.apply), name="search-feed")
            )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await indexer.stop()
            await hints.close()
            await follower.stop()
            close = getattr(feed, "close", None)
            if close is not None:
                await close()

    app = create_service_app(
        SPEC,
        settings,
        routers=[build_router(indexer.view, hints)],
        lifespan=lifespan,
        readiness=readiness,
        discovery=discovery,
    )
    app.state.indexer = indexer
    app.state.hints = hints
    app.state.history = history
    app.state.follower = follower
    return app
