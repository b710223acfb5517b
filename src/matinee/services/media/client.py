"""The typed client other services (and tools) use to call media (DESIGN.md rule 2).

| call | gives |
|---|---|
| ``await media.ingest("/data/in/film.mp4", title_id=7)`` | :class:`JobOut` (202 new, 200 known) |
| ``await media.job(job_id)`` | :class:`JobOut`, or None |
| ``await media.ladder(asset_id)`` | ladder.json as a dict, or None |
| ``await media.origin_object(asset_id, "720p/seg_1.m4s")`` | the raw response (CDN fill) |
"""

from __future__ import annotations

from typing import Any

from matinee.platform.http import CallFailed, Response, ServiceClient
from matinee.services.media.api.schemas import JobOut

__all__ = ["CallFailed", "IngestRefused", "MediaClient"]


class IngestRefused(Exception):
    """Media refused an ingest: the problem's status and detail say why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class MediaClient:
    """Calls media through the resilient client; 404s become None."""

    service = "media"

    def __init__(self, http: ServiceClient) -> None:
        self._http = http

    async def ingest(self, path: str, title_id: int) -> JobOut:
        """Queue a server-side file for ``title_id``; raise IngestRefused or CallFailed."""
        # Idempotent by construction (the same file is the same asset), so retrying is safe.
        response = await self._http.request(
            "POST", "/admin/ingest", json={"path": path, "title_id": title_id}, idempotent=True
        )
        if response.status >= 400:
            detail = _detail(response)
            raise IngestRefused(response.status, detail)
        return JobOut.model_validate_json(response.body)

    async def job(self, job_id: str) -> JobOut | None:
        """Return a job, None when media does not know it."""
        response = await self._http.request("GET", f"/jobs/{job_id}")
        if response.status in (400, 404):
            return None
        _raise_for(response)
        return JobOut.model_validate_json(response.body)

    async def ladder(self, asset_id: str) -> dict[str, Any] | None:
        """Return an asset's ladder.json, None when it is not published."""
        response = await self._http.request("GET", f"/assets/{asset_id}")
        if response.status in (400, 404):
            return None
        _raise_for(response)
        data = response.json()
        return data if isinstance(data, dict) else None

    async def origin_object(
        self, asset_id: str, path: str, *, headers: dict[str, str] | None = None
    ) -> Response:
        """Return the response for one origin object (status 200, 206 or 404) as is."""
        return await self._http.request("GET", f"/origin/{asset_id}/{path}", headers=headers)


def _detail(response: Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.body[:200].decode("utf-8", "replace")
    return str(body.get("detail", "")) if isinstance(body, dict) else ""


def _raise_for(response: Response) -> None:
    response.raise_for_status()
