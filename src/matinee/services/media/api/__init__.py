"""Media HTTP API."""

from matinee.services.media.api.routes import build_router

__all__ = ["build_router"]
