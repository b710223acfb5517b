"""The typed client other services use to call catalog (DESIGN.md rule 2)."""

from __future__ import annotations

from matinee.platform.http import CallFailed, ServiceClient
from matinee.services.catalog.api.schemas import TitleOut

__all__ = ["CallFailed", "CatalogClient"]


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
        return TitleOut.model_validate_json(response.body)
