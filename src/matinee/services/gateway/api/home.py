"""``GET /api/home?profile=ID``: the home page, composed at the edge from its sources.

The profile (from users) decides the audience; then popular titles, curated lists
and the biggest genres (from catalog) are fetched at once, each on its own deadline
(:mod:`matinee.services.gateway.domain.home`). A source that is down or late costs
its rows, never the page: the answer is still 200, with ``degraded`` naming what
was left out or served from the last good copy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from matinee.platform.api import Router
from matinee.platform.errors import NotFound, Unauthorized
from matinee.platform.identity import Identity
from matinee.services.catalog.api.schemas import TitleSummary
from matinee.services.catalog.client import CatalogClient
from matinee.services.gateway.domain.home import Row, RowCache, RowSource, assemble_home
from matinee.services.users.api.schemas import ProfileOut
from matinee.services.users.client import UsersClient

__all__ = ["HomeTimeouts", "build_home_router"]

# A profile nobody could look up sees what any profile may see.
_SAFEST_AUDIENCE = "kids"
_ROW_SIZE = 20
_LIST_ROWS = 3
_GENRE_ROWS = 4
_ITEM_FIELDS = {"id", "name", "kind", "year", "genres", "maturity_rating", "artwork"}


@dataclass(frozen=True, slots=True)
class HomeTimeouts:
    """Deadlines of the home page's sources, in seconds."""

    profile: float = 0.25
    source: float = 0.25
    # How long a source's rows are reused before it is asked again.
    fresh_for: float = 5.0


class HomeQuery(BaseModel):
    """Whose home page."""

    profile: str = Field(min_length=1, max_length=64)


def _items(titles: Sequence[TitleSummary]) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json", include=_ITEM_FIELDS) for t in titles]


def build_home_router(
    catalog: CatalogClient,
    users: UsersClient,
    *,
    timeouts: HomeTimeouts | None = None,
    cache: RowCache | None = None,
) -> Router:
    """Return the home route, composed from catalog and users through their clients."""
    deadlines = timeouts or HomeTimeouts()
    rows_cache = cache or RowCache(fresh_for=deadlines.fresh_for)
    router = Router(prefix="/api", tags=["home"])
    # (account, profile) -> (profile, looked up at): profiles change rarely, pages often.
    profiles: dict[tuple[str, str], tuple[ProfileOut, float]] = {}

    async def popular(audience: str) -> list[Row]:
        titles = await catalog.popular(limit=_ROW_SIZE, max_maturity=audience)
        return [Row("popular", "Popular on Matinee", _items(titles))]

    async def lists(audience: str) -> list[Row]:
        summaries = (await catalog.lists())[:_LIST_ROWS]
        found = await asyncio.gather(*(catalog.get_list(s.id, audience) for s in summaries))
        return [
            Row(f"list:{curated.id}", curated.name, _items(curated.items[:_ROW_SIZE]))
            for curated in found
            if curated is not None
        ]

    async def genres(audience: str) -> list[Row]:
        biggest = sorted(await catalog.genres(), key=lambda g: -g.title_count)[:_GENRE_ROWS]
        pages = await asyncio.gather(
            *(
                catalog.genre_titles(
                    g.id, page=1, page_size=_ROW_SIZE, sort="popularity", max_maturity=audience
                )
                for g in biggest
            )
        )
        return [
            Row(f"genre:{genre.id}", genre.name, _items(page.items))
            for genre, page in zip(biggest, pages, strict=True)
            if page is not None
        ]

    @router.get("/home", query=HomeQuery)
    async def home(query: HomeQuery, identity: Identity) -> dict[str, Any]:
        """Return the rows of a profile's home page; ``degraded`` names missing sources."""
        if identity.kind != "account":
            raise Unauthorized("sign in to see a home page")
        degraded: list[str] = []
        key = (identity.account_id, query.profile)
        profile: ProfileOut | None
        known = profiles.get(key)
        if known is not None and time.monotonic() - known[1] < deadlines.fresh_for:
            profile = known[0]
        else:
            try:
                async with asyncio.timeout(deadlines.profile):
                    profile = await users.get_profile(query.profile)
            except Exception:  # users down or late: show the safest page rather than none
                profile = None
                degraded.append("profile")
            else:
                if profile is None:
                    raise NotFound(f"profile {query.profile} is not one of yours")
                if len(profiles) > 10_000:
                    profiles.clear()
                profiles[key] = (profile, time.monotonic())
        audience = profile.maturity if profile is not None else _SAFEST_AUDIENCE
        page = await assemble_home(
            [
                RowSource("popular", lambda: popular(audience), deadlines.source),
                RowSource("lists", lambda: lists(audience), deadlines.source),
                RowSource("genres", lambda: genres(audience), deadlines.source),
            ],
            audience=audience,
            cache=rows_cache,
        )
        return {
            "profile": profile.model_dump(mode="json") if profile is not None else None,
            "rows": [{"id": r.id, "title": r.title, "items": r.items} for r in page.rows],
            "degraded": degraded + list(page.degraded),
        }

    return router
