"""Search HTTP API."""

from matinee.services.search.api.routes import build_router, hit_json

__all__ = ["build_router", "hit_json"]
