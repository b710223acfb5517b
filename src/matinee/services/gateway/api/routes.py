"""Public routes of the edge, each calling a service through that service's client."""

from __future__ import annotations

from matinee.platform.api import Router
from matinee.platform.errors import NotFound, ServiceUnavailable
from matinee.services.catalog.api.schemas import TitleOut, TitlePath
from matinee.services.catalog.client import CallFailed, CatalogClient

__all__ = ["build_router"]


def build_router(catalog: CatalogClient) -> Router:
    """Return the gateway's routes bound to its clients."""
    router = Router(prefix="/api", tags=["edge"])

    @router.get("/titles/{title_id}", path_model=TitlePath, response=TitleOut)
    async def get_title(path: TitlePath) -> TitleOut:
        """Return one title from the catalog."""
        try:
            title = await catalog.get_title(path.title_id)
        except CallFailed as exc:
            raise ServiceUnavailable(
                "the catalog is unavailable, try again shortly", reason=exc.reason
            ) from None
        if title is None:
            raise NotFound(f"title {path.title_id} does not exist")
        return title

    return router
