"""Settings of the catalog service."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from matinee.platform.settings import ServiceSettings

__all__ = ["CatalogSettings"]


class CatalogSettings(ServiceSettings):
    """Catalog settings; ``MATINEE_CATALOG_DATABASE_URL`` selects PostgreSQL."""

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MATINEE_CATALOG_DATABASE_URL")
    )
