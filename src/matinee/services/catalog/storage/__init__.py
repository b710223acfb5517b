"""Catalog storage adapters."""

from matinee.services.catalog.storage.sql import MIGRATIONS, SqlLists, SqlTitles

__all__ = ["MIGRATIONS", "SqlLists", "SqlTitles"]
