"""Playback's HTTP surface: routes and their request schemas."""

from matinee.services.playback.api.routes import build_router, started_json

__all__ = ["build_router", "started_json"]
