"""Search routes: type-ahead suggestions and full results with facets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from matinee.platform.api import Router, json_response
from matinee.platform.identity import Identity
from matinee.services.search.api.schemas import SearchQuery, SuggestQuery
from matinee.services.search.domain.hints import Hints
from matinee.services.search.domain.live import IndexView
from matinee.services.search.domain.model import MATURITY_CEILINGS, Hit, Taste

__all__ = ["build_router"]

_ALL = MATURITY_CEILINGS["adult"]


def hit_json(hit: Hit) -> dict[str, Any]:
    """Return the JSON form of one hit."""
    return {
        "id": hit.id,
        "title": hit.title,
        "year": hit.year,
        "spans": [list(s) for s in hit.spans],
        "matched": hit.matched,
    }


def build_router(view: Callable[[], IndexView], hints: Hints | None = None) -> Router:
    """Return the search routes reading whichever index ``view()`` returns at call time.

    With ``hints``, a request naming a ``profile`` is ranked with that profile's taste,
    looked up under the caller's own account (the signed identity), never another's.
    """
    router = Router(tags=["search"])

    async def taste_of(identity: Identity, profile: str | None) -> Taste | None:
        if hints is None or not profile or identity.kind != "account" or not identity.account_id:
            return None
        return await hints.taste(identity.account_id, profile)

    @router.get("/suggest", query=SuggestQuery)
    async def suggest(query: SuggestQuery, identity: Identity) -> Response:
        """Suggest titles for what has been typed so far (the last word is a prefix)."""
        if not query.q:
            return json_response({"query": query.q, "items": []})
        level = MATURITY_CEILINGS[query.max_maturity] if query.max_maturity else _ALL
        taste = await taste_of(identity, query.profile)
        hits = view().suggest(query.q, query.limit, max_level=level, taste=taste)
        return json_response({"query": query.q, "items": [hit_json(h) for h in hits]})

    @router.get("/search", query=SearchQuery)
    async def search(query: SearchQuery, identity: Identity) -> Response:
        """Return one page of matching titles with genre and decade facets."""
        level = MATURITY_CEILINGS[query.max_maturity] if query.max_maturity else _ALL
        if not query.q:
            return json_response(
                {
                    "query": "",
                    "items": [],
                    "total": 0,
                    "page": query.page,
                    "page_size": query.page_size,
                    "facets": {"genres": [], "decades": []},
                }
            )
        found = view().search(
            query.q,
            genre=query.genre,
            decade=query.decade,
            page=query.page,
            page_size=query.page_size,
            max_level=level,
            taste=await taste_of(identity, query.profile),
        )
        return json_response(
            {
                "query": query.q,
                "items": [{**hit_json(h), "genres": list(h.genres)} for h in found.hits],
                "total": found.total,
                "page": found.page,
                "page_size": found.page_size,
                "facets": {
                    "genres": [{"name": g, "count": n} for g, n in found.facets.genres.items()],
                    "decades": [{"decade": d, "count": n} for d, n in found.facets.decades.items()],
                },
            }
        )

    return router
