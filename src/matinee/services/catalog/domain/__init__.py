"""Catalog domain: pure types and rules, no web, HTTP or SQL."""

from matinee.services.catalog.domain.model import Title, TitleNotFound, TitleRepository

__all__ = ["Title", "TitleNotFound", "TitleRepository"]
