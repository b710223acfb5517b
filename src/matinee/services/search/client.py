"""The typed client other services (the gateway) use to call search (DESIGN.md rule 2)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from matinee.platform.http import CallFailed, ServiceClient

__all__ = ["CallFailed", "FacetCount", "SearchClient", "SearchResults", "Suggestion"]


class Suggestion(BaseModel):
    """One suggested title; ``spans`` are [start, end) offsets of ``title`` to highlight."""

    id: int
    title: str
    year: int | None = None
    spans: list[tuple[int, int]] = []
    matched: str = "title"
    genres: list[str] = []


class FacetCount(BaseModel):
    """A facet value and how many results carry it."""

    name: str | None = None
    decade: int | None = None
    count: int


class SearchResults(BaseModel):
    """One page of search results with facets."""

    query: str
    items: list[Suggestion]
    total: int
    page: int
    page_size: int
    facets: dict[str, list[FacetCount]]


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class SearchClient:
    """Calls search through the resilient client; when search is down, pass a fallback."""

    service = "search"

    def __init__(self, http: ServiceClient) -> None:
        self._http = http

    async def suggest(
        self,
        q: str,
        *,
        limit: int = 10,
        profile: str | None = None,
        max_maturity: str | None = None,
    ) -> list[Suggestion]:
        """Return suggestions for ``q``; raise CallFailed when no instance answers."""
        params = _params(q=q, limit=limit, profile=profile, max_maturity=max_maturity)
        response = await self._http.request("GET", "/suggest", params=params)
        body = response.json()
        return [Suggestion.model_validate(item) for item in body["items"]]

    async def search(
        self,
        q: str,
        *,
        genre: str | None = None,
        decade: int | None = None,
        page: int = 1,
        page_size: int = 20,
        profile: str | None = None,
        max_maturity: str | None = None,
    ) -> SearchResults:
        """Return one page of results for ``q``; raise CallFailed when no instance answers."""
        params = _params(
            q=q,
            genre=genre,
            decade=decade,
            page=page,
            page_size=page_size,
            profile=profile,
            max_maturity=max_maturity,
        )
        response = await self._http.request("GET", "/search", params=params)
        return SearchResults.model_validate_json(response.body)
