"""The typed client other services use to call catalog (DESIGN.md rule 2).

| usage | gives |
|---|---|
| ``await catalog.get_title(603)`` | ``TitleOut``, or None when there is no such title |
| ``await catalog.popular(20, max_maturity="kids")`` | the most popular titles a profile may see |
| ``await catalog.genres()`` | ``[GenreOut]`` |
| ``await catalog.genre_titles(3, page=2, sort="year")`` | ``TitlePage``, None for no such genre |
| ``await catalog.lists()``, ``await catalog.get_list("staff-picks")`` | lists (None: no such) |
| ``await catalog.upsert_titles([{..., "id": 1}])`` | admin: ``BatchOut`` (4xx: ResponseError) |
| ``await catalog.put_list("staff-picks", name=..., title_ids=[...])`` | admin: ``ListSummary`` |

Reads raise :class:`CallFailed` when catalog cannot answer; callers pick a fallback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matinee.platform.http import CallFailed, Response, ResponseError, ServiceClient
from matinee.services.catalog.api.schemas import (
    BatchOut,
    GenreList,
    GenreOut,
    ListOut,
    ListSummaries,
    ListSummary,
    TitleOut,
    TitlePage,
    TitleSummary,
)

__all__ = ["CallFailed", "CatalogClient", "ResponseError"]

# A batch of 1,000 titles is one transaction and 1,000 events: give it time.
_BATCH_TIMEOUT = 60.0


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class CatalogClient:
    """Calls catalog through the resilient client; 404s become None."""

    service = "catalog"

    def __init__(self, http: ServiceClient) -> None:
        self._http = http

    async def get_title(self, title_id: int) -> TitleOut | None:
        """Return a title, None when catalog says it does not exist; raise CallFailed."""
        response = await self._http.request("GET", f"/titles/{title_id}")
        if response.status == 404:
            return None
        return TitleOut.model_validate_json(response.raise_for_status().body)

    async def popular(self, limit: int = 20, max_maturity: str | None = None) -> list[TitleSummary]:
        """Return the most popular titles a profile of ``max_maturity`` may see."""
        page = await self.titles(page_size=limit, max_maturity=max_maturity)
        return page.items

    async def titles(
        self,
        *,
        page: int = 1,
        page_size: int = 20,
        sort: str = "popularity",
        max_maturity: str | None = None,
    ) -> TitlePage:
        """Return a page of every title in the given order."""
        response = await self._http.request(
            "GET",
            "/titles",
            params=_params(page=page, page_size=page_size, sort=sort, max_maturity=max_maturity),
        )
        return TitlePage.model_validate_json(response.raise_for_status().body)

    async def genres(self) -> list[GenreOut]:
        """Return every genre that has titles."""
        response = await self._http.request("GET", "/genres")
        return GenreList.model_validate_json(response.raise_for_status().body).root

    async def genre_titles(
        self,
        genre_id: int,
        page: int = 1,
        page_size: int = 20,
        sort: str = "popularity",
        max_maturity: str | None = None,
    ) -> TitlePage | None:
        """Return a page of a genre's titles, None when there is no such genre."""
        response = await self._http.request(
            "GET",
            f"/genres/{genre_id}/titles",
            params=_params(page=page, page_size=page_size, sort=sort, max_maturity=max_maturity),
        )
        if response.status == 404:
            return None
        return TitlePage.model_validate_json(response.raise_for_status().body)

    async def lists(self) -> list[ListSummary]:
        """Return every curated list (without titles)."""
        response = await self._http.request("GET", "/lists")
        return ListSummaries.model_validate_json(response.raise_for_status().body).root

    async def get_list(self, list_id: str, max_maturity: str | None = None) -> ListOut | None:
        """Return a curated list with its titles, None when there is no such list."""
        response = await self._http.request(
            "GET", f"/lists/{list_id}", params=_params(max_maturity=max_maturity)
        )
        if response.status == 404:
            return None
        return ListOut.model_validate_json(response.raise_for_status().body)

    # -- admin ------------------------------------------------------------------------

    async def upsert_titles(
        self,
        titles: Sequence[Mapping[str, Any]],
        *,
        timeout: float = _BATCH_TIMEOUT,  # noqa: ASYNC109 - seconds per attempt
    ) -> BatchOut:
        """Store up to 1,000 titles (each with its ``id``) in one transaction."""
        response = await self._http.request(
            "POST",
            "/admin/titles:batch",
            json={"titles": list(titles)},
            # Upserts are idempotent: retrying a batch that timed out stores the same rows.
            idempotent=True,
            timeout=timeout,
        )
        return BatchOut.model_validate_json(_ok(response).body)

    async def put_title(self, title_id: int, title: Mapping[str, Any]) -> TitleOut:
        """Create or replace one title."""
        response = await self._http.request("PUT", f"/admin/titles/{title_id}", json=title)
        return TitleOut.model_validate_json(_ok(response).body)

    async def put_list(
        self,
        list_id: str,
        *,
        name: str,
        description: str = "",
        title_ids: Sequence[int] = (),
    ) -> ListSummary:
        """Create or replace a curated list."""
        response = await self._http.request(
            "PUT",
            f"/admin/lists/{list_id}",
            json={"name": name, "description": description, "title_ids": list(title_ids)},
        )
        return ListSummary.model_validate_json(_ok(response).body)

    async def delete_list(self, list_id: str) -> bool:
        """Delete a curated list; return False when there was none."""
        response = await self._http.request("DELETE", f"/admin/lists/{list_id}")
        if response.status == 404:
            return False
        _ok(response)
        return True


def _ok(response: Response) -> Response:
    # 4xx answers are the caller's mistake: raise them with the problem document attached.
    return response.raise_for_status()
