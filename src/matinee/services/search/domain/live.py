"""The index requests see, kept current by events and swapped atomically.

Queries read ``live.view`` once and use that object to the end: every view is
immutable, and a change builds a new one and swaps the reference (one assignment),
so no request ever sees a half-built index.

A view is a large *base* index plus a small *overlay* of titles changed since the
base was built (the overlay shadows their old base entries). Staging an event is a
dict update; ``publish()`` rebuilds only the overlay (milliseconds), so a change is
searchable at the next publish; once the overlay grows past ``compact_at`` titles
the owner rebuilds the base off the request path and ``install()`` swaps it in.

| usage | effect |
|---|---|
| ``live = LiveIndex()`` | an empty, ready-to-query index |
| ``live.stage([doc], position=42)`` | remembered, not yet visible |
| ``live.publish()`` | visible now (new overlay, one swap) |
| ``docs, token = live.compaction()``, build, ``live.install(base, token)`` | new base |
| ``live.view.suggest("matrx", 10)`` | hits over base and overlay |
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from matinee.services.search.domain.index import MAX_LEVEL, Candidate, TitleIndex, page_of
from matinee.services.search.domain.model import (
    Hit,
    RankKey,
    SearchPage,
    Taste,
    TitleDoc,
    rank_key,
)

__all__ = ["IndexView", "LiveIndex"]


@dataclass(frozen=True, slots=True)
class IndexView:
    """An immutable snapshot of the whole index at one stream ``position``."""

    base: TitleIndex
    overlay: TitleIndex
    shadow: frozenset[int]  # base document numbers replaced by the overlay
    position: int = 0

    def __len__(self) -> int:
        return len(self.base) - len(self.shadow) + len(self.overlay)

    def suggest(
        self,
        query: str,
        limit: int = 10,
        *,
        max_level: int = MAX_LEVEL,
        taste: Taste | None = None,
    ) -> list[Hit]:
        """Return up to ``limit`` suggestions, ranked across base and overlay."""
        base = self.base.suggest(query, limit, max_level=max_level, skip=self.shadow, taste=taste)
        if not len(self.overlay):
            return base
        fresh = self.overlay.suggest(query, limit, max_level=max_level, taste=taste)
        return sorted([*base, *fresh], key=lambda h: h.rank)[:limit]

    def search(
        self,
        query: str,
        *,
        genre: str | None = None,
        decade: int | None = None,
        page: int = 1,
        page_size: int = 20,
        max_level: int = MAX_LEVEL,
        taste: Taste | None = None,
    ) -> SearchPage:
        """Return one page of every match across base and overlay, with facets."""
        rows: list[tuple[RankKey, Candidate, TitleDoc]] = []
        hit_of: dict[int, tuple[TitleIndex, list[str]]] = {}
        for index, skip in ((self.base, self.shadow), (self.overlay, frozenset[int]())):
            if not len(index):
                continue
            folded, found = index.candidates(
                query, None, max_level=max_level, skip=skip, taste=taste
            )
            for c in found:
                doc = index.docs[c.doc]
                # The candidates' own rank, with the title id in place of a per-index number.
                rows.append((rank_key(c.typos, c.exact_title, c.tier, c.score, doc.id), c, doc))
                hit_of[id(c)] = (index, folded)
        rows.sort(key=lambda r: r[0])

        def to_hit(candidate: Candidate) -> Hit:
            index, folded = hit_of[id(candidate)]
            return index.hit(folded, candidate)

        return page_of(
            [(c, doc) for _, c, doc in rows],
            to_hit,
            genre=genre,
            decade=decade,
            page=page,
            page_size=page_size,
        )


_EMPTY = TitleIndex(())


class LiveIndex:
    """Owns the current :class:`IndexView` and the titles staged since it was built."""

    def __init__(self, docs: Iterable[TitleDoc] = (), *, position: int = 0, compact_at: int = 1000):
        self.compact_at = compact_at
        self.view = IndexView(TitleIndex.build(docs), _EMPTY, frozenset(), position)
        self._pending: dict[int, TitleDoc] = {}
        self._position = position
        self._dirty = False

    @property
    def position(self) -> int:
        """Return the stream position of the last staged event."""
        return self._position

    @property
    def dirty(self) -> bool:
        """Tell whether staged titles are waiting for ``publish()``."""
        return self._dirty

    @property
    def wants_compaction(self) -> bool:
        """Tell whether the overlay has grown enough to rebuild the base."""
        return len(self._pending) >= self.compact_at

    def stage(self, docs: Iterable[TitleDoc], *, position: int) -> None:
        """Remember newer versions of titles; they become visible at the next publish."""
        for doc in docs:
            self._pending[doc.id] = doc
            self._dirty = True
        self._position = max(self._position, position)

    def publish(self) -> IndexView:
        """Rebuild the overlay from every staged title and swap in a new view."""
        base = self.view.base
        overlay = TitleIndex(list(self._pending.values())) if self._pending else _EMPTY
        shadow = frozenset(base.by_id[i] for i in self._pending if i in base.by_id)
        self.view = IndexView(base, overlay, shadow, self._position)
        self._dirty = False
        return self.view

    def compaction(self) -> tuple[list[TitleDoc], dict[int, TitleDoc]]:
        """Return every current title (to build a new base from) and a token for install."""
        token = dict(self._pending)
        shadowed = {self.view.base.docs[n].id for n in self.view.shadow}
        docs = [d for d in self.view.base.docs if d.id not in shadowed and d.id not in token]
        docs.extend(token.values())
        return docs, token

    def install(self, base: TitleIndex, token: dict[int, TitleDoc]) -> IndexView:
        """Swap in a base built from ``compaction()``; titles staged since stay in the overlay."""
        self._pending = {i: d for i, d in self._pending.items() if token.get(i) is not d}
        self.view = IndexView(base, _EMPTY, frozenset(), self.view.position)
        return self.publish()
