"""In-memory repositories: the fakes unit tests pass to ``create_app``; same behaviour as SQL."""

from __future__ import annotations

from collections.abc import Sequence

from matinee.services.catalog.domain.model import (
    CuratedList,
    Genre,
    GenreNotFound,
    ListNotFound,
    Page,
    Title,
    TitleNotFound,
    UnknownTitles,
)
from matinee.services.catalog.domain.rules import RATINGS, Sort, sort_key

__all__ = ["InMemoryLists", "InMemoryTitles"]


class InMemoryTitles:
    """Titles in a dict; genres get ids in the order they first appear."""

    def __init__(self, titles: Sequence[Title] = ()) -> None:
        self._titles: dict[int, Title] = {}
        self._genre_ids: dict[str, int] = {}
        for title in titles:
            self._store(title)

    def _store(self, title: Title) -> bool:
        for name in title.genres:
            self._genre_ids.setdefault(name, len(self._genre_ids) + 1)
        new = title.id not in self._titles
        self._titles[title.id] = title
        return new

    async def get(self, title_id: int) -> Title:
        try:
            return self._titles[title_id]
        except KeyError:
            raise TitleNotFound(title_id) from None

    async def get_many(self, title_ids: Sequence[int]) -> dict[int, Title]:
        return {i: self._titles[i] for i in title_ids if i in self._titles}

    async def upsert(self, title: Title) -> bool:
        return self._store(title)

    async def upsert_many(self, titles: Sequence[Title]) -> list[bool]:
        return [self._store(t) for t in titles]

    async def browse(
        self,
        *,
        sort: Sort,
        offset: int,
        limit: int,
        max_level: int,
        genre_id: int | None = None,
    ) -> Page:
        name = None
        if genre_id is not None:
            name = (await self.genre(genre_id)).name
        found = [
            t
            for t in self._titles.values()
            if RATINGS.get(t.maturity_rating, 5) <= max_level and (name is None or name in t.genres)
        ]
        if sort is Sort.POPULARITY:
            found.sort(key=lambda t: (-t.popularity, t.id))
        elif sort is Sort.YEAR:
            # Titles without a year come last, as SQL's NULLS LAST puts them.
            found.sort(key=lambda t: (t.year is None, -(t.year or 0), t.id))
        else:
            found.sort(key=lambda t: (sort_key(t.name), t.id))
        return Page(found[offset : offset + limit], len(found))

    async def genres(self) -> Sequence[Genre]:
        counts = {name: 0 for name in self._genre_ids}
        for title in self._titles.values():
            for name in title.genres:
                counts[name] += 1
        return sorted(
            (Genre(self._genre_ids[n], n, c) for n, c in counts.items() if c),
            key=lambda g: g.name,
        )

    async def genre(self, genre_id: int) -> Genre:
        for genre in await self.genres():
            if genre.id == genre_id:
                return genre
        raise GenreNotFound(genre_id)


class InMemoryLists:
    """Curated lists in a dict, checked against an :class:`InMemoryTitles`."""

    def __init__(self, titles: InMemoryTitles) -> None:
        self._titles = titles
        self._lists: dict[str, CuratedList] = {}

    async def lists(self) -> Sequence[CuratedList]:
        return sorted(self._lists.values(), key=lambda c: (c.name, c.id))

    async def get_list(self, list_id: str) -> CuratedList:
        try:
            return self._lists[list_id]
        except KeyError:
            raise ListNotFound(list_id) from None

    async def put_list(self, curated: CuratedList) -> bool:
        known = await self._titles.get_many(curated.title_ids)
        missing = [i for i in curated.title_ids if i not in known]
        if missing:
            raise UnknownTitles(missing)
        new = curated.id not in self._lists
        self._lists[curated.id] = curated
        return new

    async def delete_list(self, list_id: str) -> None:
        if self._lists.pop(list_id, None) is None:
            raise ListNotFound(list_id)
