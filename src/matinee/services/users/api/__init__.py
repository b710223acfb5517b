"""Users HTTP API."""

from matinee.services.users.api.routes import build_router

__all__ = ["build_router"]
