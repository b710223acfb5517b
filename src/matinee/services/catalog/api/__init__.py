"""Catalog HTTP API."""

from matinee.services.catalog.api.routes import build_router

__all__ = ["build_router"]
