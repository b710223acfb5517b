"""Gateway public API."""

from matinee.services.gateway.api.routes import build_router

__all__ = ["build_router"]
