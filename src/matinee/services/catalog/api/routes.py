"""Catalog routes: read titles; admins upsert them."""

from __future__ import annotations

from starlette.responses import Response

from matinee.platform.api import Router, json_response
from matinee.platform.errors import NotFound
from matinee.platform.events import EventBus
from matinee.platform.identity import Identity, require_admin
from matinee.services.catalog.api.schemas import PageQuery, TitleIn, TitleOut, TitlePage, TitlePath
from matinee.services.catalog.domain.model import TitleNotFound, TitleRepository
from matinee.services.catalog.events import TitleUpserted

__all__ = ["build_router"]


def build_router(titles: TitleRepository, events: EventBus | None = None) -> Router:
    """Return the catalog's routes bound to a title repository and an event bus."""
    router = Router(tags=["catalog"])

    @router.get("/titles/{title_id}", path_model=TitlePath, response=TitleOut)
    async def get_title(path: TitlePath) -> TitleOut:
        """Return one title."""
        try:
            return TitleOut.from_domain(await titles.get(path.title_id))
        except TitleNotFound as exc:
            raise NotFound(str(exc)) from None

    @router.get("/titles", query=PageQuery, response=TitlePage)
    async def list_titles(query: PageQuery) -> TitlePage:
        """List titles, most popular first."""
        items = await titles.list_popular(query.limit, query.offset)
        return TitlePage(
            items=[TitleOut.from_domain(t) for t in items], limit=query.limit, offset=query.offset
        )

    @router.put("/admin/titles/{title_id}", path_model=TitlePath, body=TitleIn, response=TitleOut)
    async def put_title(path: TitlePath, body: TitleIn, identity: Identity) -> Response:
        """Create or replace a title (201 when new); admins and services only."""
        require_admin(identity)
        title = body.to_domain(path.title_id)
        created = await titles.upsert(title)
        if events is not None:
            # Stored first, then announced: a failed publish is a 503 and the admin's retry
            # (an idempotent PUT) announces it again.
            await events.publish(TitleUpserted.of(title))
        return json_response(TitleOut.from_domain(title), 201 if created else 200)

    return router
