"""An in-memory TitleRepository: the fake that unit tests pass to ``create_app``."""

from __future__ import annotations

from collections.abc import Sequence

from matinee.services.catalog.domain.model import Title, TitleNotFound

__all__ = ["InMemoryTitles"]


class InMemoryTitles:
    """Titles in a dict; same behaviour as the SQL adapter."""

    def __init__(self, titles: Sequence[Title] = ()) -> None:
        self._titles = {t.id: t for t in titles}

    async def get(self, title_id: int) -> Title:
        try:
            return self._titles[title_id]
        except KeyError:
            raise TitleNotFound(title_id) from None

    async def upsert(self, title: Title) -> bool:
        new = title.id not in self._titles
        self._titles[title.id] = title
        return new

    async def list_popular(self, limit: int, offset: int) -> Sequence[Title]:
        ranked = sorted(self._titles.values(), key=lambda t: (-t.popularity, t.id))
        return ranked[offset : offset + limit]
