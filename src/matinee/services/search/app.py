"""Composition root of search: wiring only, plus the task that keeps the index current."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from matinee.platform.discovery import Discovery, RegistryDiscovery
from matinee.platform.service import ReadinessCheck, create_service_app
from matinee.services.search import SPEC
from matinee.services.search.api import build_router
from matinee.services.search.domain.index import TitleIndex
from matinee.services.search.domain.live import IndexView, LiveIndex
from matinee.services.search.domain.model import TitleDoc
from matinee.services.search.domain.ports import TitleFeed
from matinee.services.search.settings import SearchSettings
from matinee.services.search.storage import JetStreamTitleFeed

__all__ = ["Indexer", "create_app"]

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


def create_app(
    settings: SearchSettings | None = None,
    *,
    feed: TitleFeed | None = None,
    live: LiveIndex | None = None,
    discovery: Discovery | None = None,
) -> Starlette:
    """Build search; tests pass a ``MemoryTitleFeed`` instead of the JetStream one."""
    settings = settings or SearchSettings()
    live = live or LiveIndex(compact_at=settings.search_compact_at)
    if feed is None and settings.nats_url:
        feed = JetStreamTitleFeed(settings.nats_url)
    if discovery is None and settings.port:
        discovery = RegistryDiscovery.from_settings(settings)
    indexer = Indexer(live, publish_interval=settings.search_publish_interval)
    if feed is None:
        indexer.caught_up.set()  # nothing to replay: the given index is all there is
    readiness: dict[str, ReadinessCheck] = {"index": indexer.check}
    if feed is not None:
        readiness["events"] = feed.check

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(indexer.publish_forever(), name="search-publish")]
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
            close = getattr(feed, "close", None)
            if close is not None:
                await close()

    app = create_service_app(
        SPEC,
        settings,
        routers=[build_router(indexer.view)],
        lifespan=lifespan,
        readiness=readiness,
        discovery=discovery,
    )
    app.state.indexer = indexer
    return app
