"""Catalog storage adapters."""

from matinee.services.catalog.storage.sql import MIGRATIONS, SqlTitles

__all__ = ["MIGRATIONS", "SqlTitles"]
