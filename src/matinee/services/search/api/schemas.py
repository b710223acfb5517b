"""Query parameters of the search API; answers are plain JSON built in routes (hot path)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_QUERY", "SearchQuery", "SuggestQuery"]

# Longer than any title anyone types; longer queries are refused with 400.
MAX_QUERY = 200

Maturity = Literal["kids", "teen", "adult"]


class SuggestQuery(BaseModel):
    """``?q=matr&limit=10&profile=p1&max_maturity=teen``."""

    model_config = ConfigDict(extra="ignore")

    q: str = Field(default="", max_length=MAX_QUERY)
    limit: int = Field(default=10, ge=1, le=50)
    # Who is typing, among the caller's profiles: their viewing lifts titles (a hint).
    profile: str | None = Field(default=None, max_length=100)
    max_maturity: Maturity | None = None


class SearchQuery(BaseModel):
    """``?q=matrix&genre=Action&decade=1990&page=2&page_size=20``."""

    model_config = ConfigDict(extra="ignore")

    q: str = Field(default="", max_length=MAX_QUERY)
    genre: str | None = Field(default=None, max_length=64)
    decade: int | None = Field(default=None, ge=1800, le=2200, multiple_of=10)
    page: int = Field(default=1, ge=1, le=1000)
    page_size: int = Field(default=20, ge=1, le=50)
    profile: str | None = Field(default=None, max_length=100)
    max_maturity: Maturity | None = None
