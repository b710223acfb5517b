"""Catalog routes: browse titles, genres and lists; admins write titles and lists."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from starlette.responses import Response

from matinee.platform.api import Router, json_response
from matinee.platform.errors import BadRequest, NotFound
from matinee.platform.events import EventBus
from matinee.platform.identity import Identity, require_admin
from matinee.services.catalog.api.schemas import (
    AudienceQuery,
    BatchOut,
    BrowseQuery,
    GenreList,
    GenreOut,
    GenrePath,
    ListIn,
    ListOut,
    ListPath,
    ListSummaries,
    ListSummary,
    TitleBatchIn,
    TitleIn,
    TitleOut,
    TitlePage,
    TitlePath,
    TitleSummary,
)
from matinee.services.catalog.domain.model import (
    GenreNotFound,
    ListNotFound,
    ListRepository,
    Page,
    Title,
    TitleNotFound,
    TitleRepository,
    UnknownTitles,
)
from matinee.services.catalog.domain.rules import maturity_level, max_level, page_offset
from matinee.services.catalog.events import TitleUpserted

__all__ = ["build_router"]

# A batch of 1,000 titles with synopses and cast fits well within this.
_BATCH_MAX_BODY = 8 << 20
# Publishes in flight at once while announcing a batch.
_PUBLISH_WINDOW = 100


def build_router(
    titles: TitleRepository, lists: ListRepository, events: EventBus | None = None
) -> Router:
    """Return the catalog's routes bound to its repositories and event bus."""
    router = Router(tags=["catalog"])

    async def announce(stored: Sequence[Title]) -> None:
        # Stored first, then announced: a failed publish is a 503 and the admin's retry
        # (an idempotent upsert) announces it again.
        if events is None:
            return
        for start in range(0, len(stored), _PUBLISH_WINDOW):
            window = stored[start : start + _PUBLISH_WINDOW]
            await asyncio.gather(*(events.publish(TitleUpserted.of(t)) for t in window))

    def page_of(found: Page, query: BrowseQuery) -> TitlePage:
        return TitlePage(
            items=[TitleSummary.from_domain(t) for t in found.items],
            page=query.page,
            page_size=query.page_size,
            total=found.total,
        )

    async def browse(query: BrowseQuery, genre_id: int | None = None) -> TitlePage:
        found = await titles.browse(
            sort=query.sort,
            offset=page_offset(query.page, query.page_size),
            limit=query.page_size,
            max_level=max_level(query.max_maturity),
            genre_id=genre_id,
        )
        return page_of(found, query)

    @router.get("/titles/{title_id}", path_model=TitlePath, response=TitleOut)
    async def get_title(path: TitlePath) -> TitleOut:
        """Return one title, with its seasons and episodes when it is a series."""
        try:
            return TitleOut.from_domain(await titles.get(path.title_id))
        except TitleNotFound as exc:
            raise NotFound(str(exc)) from None

    @router.get("/titles", query=BrowseQuery, response=TitlePage)
    async def list_titles(query: BrowseQuery) -> TitlePage:
        """Browse every title: by popularity, year or title, a page at a time."""
        return await browse(query)

    @router.get("/genres", response=GenreList)
    async def list_genres() -> GenreList:
        """List the genres that have titles, with their title counts."""
        return GenreList([GenreOut.from_domain(g) for g in await titles.genres()])

    @router.get(
        "/genres/{genre_id}/titles", path_model=GenrePath, query=BrowseQuery, response=TitlePage
    )
    async def genre_titles(path: GenrePath, query: BrowseQuery) -> TitlePage:
        """Browse the titles of one genre."""
        try:
            return await browse(query, path.genre_id)
        except GenreNotFound as exc:
            raise NotFound(str(exc)) from None

    @router.get("/lists", response=ListSummaries)
    async def list_lists() -> ListSummaries:
        """List the curated lists."""
        return ListSummaries(
            [
                ListSummary(id=c.id, name=c.name, description=c.description, size=len(c.title_ids))
                for c in await lists.lists()
            ]
        )

    @router.get("/lists/{list_id}", path_model=ListPath, query=AudienceQuery, response=ListOut)
    async def get_list(path: ListPath, query: AudienceQuery) -> ListOut:
        """Return a curated list with the titles the audience may see, in the editor's order."""
        try:
            curated = await lists.get_list(path.list_id)
        except ListNotFound as exc:
            raise NotFound(str(exc)) from None
        found = await titles.get_many(curated.title_ids)
        level = max_level(query.max_maturity)
        return ListOut(
            id=curated.id,
            name=curated.name,
            description=curated.description,
            items=[
                TitleSummary.from_domain(found[i])
                for i in curated.title_ids
                if i in found and maturity_level(found[i].maturity_rating) <= level
            ],
        )

    @router.put("/admin/titles/{title_id}", path_model=TitlePath, body=TitleIn, response=TitleOut)
    async def put_title(path: TitlePath, body: TitleIn, identity: Identity) -> Response:
        """Create or replace a title (201 when new); admins and services only."""
        require_admin(identity)
        title = body.to_domain(path.title_id)
        created = await titles.upsert(title)
        await announce([title])
        return json_response(TitleOut.from_domain(title), 201 if created else 200)

    @router.post(
        "/admin/titles:batch", body=TitleBatchIn, response=BatchOut, max_body=_BATCH_MAX_BODY
    )
    async def put_titles(body: TitleBatchIn, identity: Identity) -> BatchOut:
        """Create or replace up to 1,000 titles in one transaction; each one is announced."""
        require_admin(identity)
        batch = [item.to_domain(item.id) for item in body.titles]
        created = await titles.upsert_many(batch)
        await announce(batch)
        new = sum(created)
        return BatchOut(created=new, updated=len(batch) - new)

    @router.put("/admin/lists/{list_id}", path_model=ListPath, body=ListIn, response=ListSummary)
    async def put_list(path: ListPath, body: ListIn, identity: Identity) -> Response:
        """Create or replace a curated list (201 when new); admins only."""
        require_admin(identity)
        curated = body.to_domain(path.list_id)
        try:
            created = await lists.put_list(curated)
        except UnknownTitles as exc:
            raise BadRequest(
                f"body.title_ids: {exc}",
                errors=[{"field": "body.title_ids", "message": str(exc)}],
            ) from None
        summary = ListSummary(
            id=curated.id,
            name=curated.name,
            description=curated.description,
            size=len(curated.title_ids),
        )
        return json_response(summary, 201 if created else 200)

    @router.delete("/admin/lists/{list_id}", path_model=ListPath)
    async def delete_list(path: ListPath, identity: Identity) -> Response:
        """Delete a curated list; admins only."""
        require_admin(identity)
        try:
            await lists.delete_list(path.list_id)
        except ListNotFound as exc:
            raise NotFound(str(exc)) from None
        return Response(status_code=204)

    return router
