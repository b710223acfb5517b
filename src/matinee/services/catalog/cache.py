"""A read-through cache of title documents: ``GET /titles/{id}`` answered from memory.

A title is read far more often than it changes, and reading one from SQL costs a
pooled connection, a transaction and several thread hops (aiosqlite), then pydantic
builds and serialises it. The cache keeps the serialised JSON document of each
recently read title for ``ttl`` seconds:

| staleness | bound |
|---|---|
| a write through this instance | none: the write invalidates the entry before it returns |
| a write through another instance | at most ``ttl`` seconds (default 2 s) |
| a title that does not exist | never cached: a new title shows up at once |

Concurrent misses for the same title share one read (no stampede on a cold entry),
and a read that raced a write is not stored, so a stale document cannot outlive
the write that replaced it.

| usage | effect |
|---|---|
| ``docs = TitleDocuments(ttl=2.0)`` | one per process |
| ``titles = CachedTitles(SqlTitles(engine), docs)`` | writes through it invalidate |
| ``serve_title_documents(router, docs)`` | ``GET /titles/{title_id}`` reads through the cache |
| ``docs.invalidate(title_id)`` / ``docs.clear()`` | forget one / every document |
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from matinee.platform.api import Router
from matinee.services.catalog.domain.model import Genre, Page, Title, TitleRepository
from matinee.services.catalog.domain.rules import Sort

__all__ = ["CachedTitles", "TitleDocuments", "serve_title_documents"]

_JSON = "application/json"
_TITLE_PATH = "/titles/{title_id}"


class TitleDocuments:
    """Serialised title documents by id, each kept for ``ttl`` seconds (bounded LRU-ish)."""

    def __init__(
        self,
        *,
        ttl: float = 2.0,
        max_entries: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._docs: dict[int, tuple[float, bytes]] = {}
        self._loading: dict[int, asyncio.Task[bytes]] = {}
        # Bumped by every invalidation: a read that started before one is not stored.
        self._generation = 0
        self.hits = 0
        self.misses = 0

    def get(self, title_id: int) -> bytes | None:
        """Return the cached document of ``title_id`` if it is still fresh."""
        entry = self._docs.get(title_id)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._docs[title_id]
            return None
        return entry[1]

    async def read_through(self, title_id: int, load: Callable[[], Awaitable[bytes]]) -> bytes:
        """Return the document of ``title_id``: cached, or loaded once for every waiter."""
        doc = self.get(title_id)
        if doc is not None:
            self.hits += 1
            return doc
        pending = self._loading.get(title_id)
        if pending is None:
            self.misses += 1
            # A task of its own: a caller that goes away does not cancel the others' read.
            pending = asyncio.get_running_loop().create_task(self._load(title_id, load))
            pending.add_done_callback(_retrieve)
            self._loading[title_id] = pending
        return await asyncio.shield(pending)

    async def _load(self, title_id: int, load: Callable[[], Awaitable[bytes]]) -> bytes:
        generation = self._generation
        try:
            doc = await load()
        finally:
            if self._loading.get(title_id) is asyncio.current_task():
                del self._loading[title_id]
        if generation == self._generation:
            self._store(title_id, doc)
        return doc

    def _store(self, title_id: int, doc: bytes) -> None:
        docs = self._docs
        if len(docs) >= self.max_entries:
            # Drop the oldest tenth (dicts keep insertion order) rather than one at a time.
            for key in list(docs)[: max(1, self.max_entries // 10)]:
                del docs[key]
        docs[title_id] = (self._clock() + self.ttl, doc)

    def invalidate(self, title_id: int) -> None:
        """Forget the document of ``title_id`` (it changed)."""
        self._generation += 1
        self._docs.pop(title_id, None)
        # A read in flight may have seen the old row: later callers must not join it.
        self._loading.pop(title_id, None)

    def clear(self) -> None:
        """Forget every document."""
        self._generation += 1
        self._docs.clear()
        self._loading.clear()

    def __len__(self) -> int:
        return len(self._docs)


class CachedTitles:
    """A TitleRepository that invalidates cached documents when titles are written."""

    def __init__(self, inner: TitleRepository, documents: TitleDocuments) -> None:
        self.inner = inner
        self.documents = documents

    async def get(self, title_id: int) -> Title:
        """Return the title (from storage: the cache holds documents, not titles)."""
        return await self.inner.get(title_id)

    async def get_many(self, title_ids: Sequence[int]) -> dict[int, Title]:
        """Return the titles that exist among ``title_ids``."""
        return await self.inner.get_many(title_ids)

    async def upsert(self, title: Title) -> bool:
        """Write ``title`` and forget its cached document."""
        try:
            return await self.inner.upsert(title)
        finally:
            self.documents.invalidate(title.id)

    async def upsert_many(self, titles: Sequence[Title]) -> list[bool]:
        """Write ``titles`` and forget their cached documents."""
        try:
            return await self.inner.upsert_many(titles)
        finally:
            for title in titles:
                self.documents.invalidate(title.id)

    async def browse(
        self,
        *,
        sort: Sort,
        offset: int,
        limit: int,
        max_level: int,
        genre_id: int | None = None,
    ) -> Page:
        """Return a page of titles (not cached)."""
        return await self.inner.browse(
            sort=sort, offset=offset, limit=limit, max_level=max_level, genre_id=genre_id
        )

    async def genres(self) -> Sequence[Genre]:
        """Return every genre with its title count."""
        return await self.inner.genres()

    async def genre(self, genre_id: int) -> Genre:
        """Return one genre."""
        return await self.inner.genre(genre_id)


def _retrieve(task: asyncio.Task[bytes]) -> None:
    # Every waiter may have gone: mark the error seen so asyncio does not log it.
    if not task.cancelled():
        task.exception()


def serve_title_documents(router: Router, documents: TitleDocuments) -> None:
    """Make ``GET /titles/{title_id}`` of ``router`` answer from ``documents``."""
    for endpoint in router.endpoints:
        if endpoint.method == "GET" and endpoint.path == router.prefix + _TITLE_PATH:
            endpoint.handler = _reading_through(endpoint.handler, documents)
            return
    raise LookupError(f"the router has no GET {_TITLE_PATH}")


def _reading_through(
    handler: Callable[..., Awaitable[Any]], documents: TitleDocuments
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(handler)
    async def cached(path: Any) -> Response:
        title_id: int = path.title_id

        async def load() -> bytes:
            result = await handler(path=path)
            if isinstance(result, Response):
                return bytes(result.body)
            assert isinstance(result, BaseModel)
            return result.__pydantic_serializer__.to_json(result)

        return Response(await documents.read_through(title_id, load), media_type=_JSON)

    return cached
