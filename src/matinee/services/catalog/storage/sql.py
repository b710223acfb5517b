"""The catalog in SQL (SQLite by default, PostgreSQL when configured), through SQLAlchemy Core.

Browsing a genre is the hot query: ``title_genres`` repeats each title's sort keys
(popularity, year, sort name) and maturity level next to the genre id, so a page of
a genre in any order is one index range scan, without touching ``titles`` until the
twenty rows of the page are known. Genres, cast and artwork are read whole with a
title, so ``titles`` also keeps them as JSON text (portable across both engines).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from matinee.platform.storage import Migration
from matinee.services.catalog.domain.model import (
    Artwork,
    CuratedList,
    Episode,
    Genre,
    GenreNotFound,
    ListNotFound,
    Page,
    Season,
    Title,
    TitleNotFound,
    UnknownTitles,
)
from matinee.services.catalog.domain.rules import RATINGS, Sort, sort_key

__all__ = ["MIGRATIONS", "SqlLists", "SqlTitles", "titles_table"]

_ALL_LEVELS = max(RATINGS.values())

# -- schema ----------------------------------------------------------------------------

# Version 1 as it was first shipped: migration 1 must keep creating exactly this.
_v1 = sa.MetaData()
_titles_v1 = sa.Table(
    "titles",
    _v1,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("year", sa.Integer),
    sa.Column("kind", sa.String(16), nullable=False, server_default="movie"),
    sa.Column("genres", sa.Text, nullable=False, server_default="[]"),
    sa.Column("synopsis", sa.Text, nullable=False, server_default=""),
    sa.Column("runtime_minutes", sa.Integer),
    sa.Column("popularity", sa.Float, nullable=False, server_default="0"),
    sa.Index("ix_titles_popularity", sa.text("popularity DESC"), "id"),
)

metadata = sa.MetaData()

titles_table = sa.Table(
    "titles",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("year", sa.Integer),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("genres", sa.Text, nullable=False),
    sa.Column("synopsis", sa.Text, nullable=False),
    sa.Column("runtime_minutes", sa.Integer),
    sa.Column("popularity", sa.Float, nullable=False),
    sa.Column("original_title", sa.Text),
    sa.Column("maturity_rating", sa.String(8), nullable=False),
    sa.Column("maturity_level", sa.SmallInteger, nullable=False),
    sa.Column("cast_json", sa.Text, nullable=False),
    sa.Column("artwork_json", sa.Text, nullable=False),
    sa.Column("asset_ref", sa.Text),
    sa.Column("sort_name", sa.Text, nullable=False),
    # The year with unknown as 0: "newest first" puts unknown last on both engines.
    sa.Column("year_sort", sa.Integer, nullable=False),
)

genres_table = sa.Table(
    "genres",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
)

title_genres = sa.Table(
    "title_genres",
    metadata,
    sa.Column("genre_id", sa.Integer, primary_key=True),
    sa.Column("title_id", sa.BigInteger, primary_key=True),
    sa.Column("popularity", sa.Float, nullable=False),
    sa.Column("year_sort", sa.Integer, nullable=False),
    sa.Column("sort_name", sa.Text, nullable=False),
    sa.Column("maturity_level", sa.SmallInteger, nullable=False),
    # Each ends with the maturity level so a profile's filter is read from the index.
    sa.Index(
        "ix_title_genres_popularity",
        "genre_id",
        sa.text("popularity DESC"),
        "title_id",
        "maturity_level",
    ),
    sa.Index(
        "ix_title_genres_year", "genre_id", sa.text("year_sort DESC"), "title_id", "maturity_level"
    ),
    sa.Index("ix_title_genres_title", "genre_id", "sort_name", "title_id", "maturity_level"),
    sa.Index("ix_title_genres_title_id", "title_id"),
)

seasons_table = sa.Table(
    "seasons",
    metadata,
    sa.Column("title_id", sa.BigInteger, primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
)

episodes_table = sa.Table(
    "episodes",
    metadata,
    sa.Column("title_id", sa.BigInteger, primary_key=True),
    sa.Column("season_number", sa.Integer, primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("runtime_minutes", sa.Integer),
    sa.Column("asset_ref", sa.Text),
    sa.Column("synopsis", sa.Text, nullable=False),
)

lists_table = sa.Table(
    "lists",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
)

list_items = sa.Table(
    "list_items",
    metadata,
    sa.Column("list_id", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("title_id", sa.BigInteger, nullable=False),
)

_NEW_TABLES = (genres_table, title_genres, seasons_table, episodes_table, lists_table, list_items)


async def _create_titles(conn: AsyncConnection) -> None:
    await conn.run_sync(lambda sync: _titles_v1.create(sync, checkfirst=True))


_V2_COLUMNS = (
    "original_title TEXT",
    "maturity_rating VARCHAR(8) NOT NULL DEFAULT 'NR'",
    f"maturity_level SMALLINT NOT NULL DEFAULT {_ALL_LEVELS}",
    "cast_json TEXT NOT NULL DEFAULT '[]'",
    "artwork_json TEXT NOT NULL DEFAULT '{}'",
    "asset_ref TEXT",
    "sort_name TEXT NOT NULL DEFAULT ''",
    "year_sort INTEGER NOT NULL DEFAULT 0",
)


async def _browse_schema(conn: AsyncConnection) -> None:
    for column in _V2_COLUMNS:
        await conn.execute(sa.text(f"ALTER TABLE titles ADD COLUMN {column}"))
    for statement in (
        "CREATE INDEX ix_titles_year ON titles (year_sort DESC, id)",
        "CREATE INDEX ix_titles_sort_name ON titles (sort_name, id)",
    ):
        await conn.execute(sa.text(statement))
    await conn.run_sync(lambda sync: metadata.create_all(sync, tables=list(_NEW_TABLES)))
    # Titles stored by version 1 join their genres' browse tables.
    rows = await conn.execute(sa.text("SELECT id, name, year, popularity, genres FROM titles"))
    titles = [
        Title(id=r.id, name=r.name, year=r.year, popularity=r.popularity,
              genres=tuple(orjson.loads(r.genres)))
        for r in rows
    ]  # fmt: skip
    for title in titles:
        await conn.execute(
            sa.update(titles_table)
            .where(titles_table.c.id == title.id)
            .values(sort_name=sort_key(title.name), year_sort=title.year or 0)
        )
    if titles:
        genre_ids = await _genre_ids(conn, {g for t in titles for g in t.genres})
        await _insert_title_genres(conn, titles, genre_ids)


MIGRATIONS = [
    Migration(1, "create titles", _create_titles),
    Migration(2, "genres, series, lists and browse indexes", _browse_schema),
]

# -- rows <-> domain -------------------------------------------------------------------


def _title_values(title: Title) -> dict[str, Any]:
    artwork = {k: v for k, v in (("poster_url", title.artwork.poster_url),
                                 ("backdrop_url", title.artwork.backdrop_url)) if v}  # fmt: skip
    return {
        "id": title.id,
        "name": title.name,
        "year": title.year,
        "kind": title.kind,
        "genres": orjson.dumps(list(title.genres)).decode(),
        "synopsis": title.synopsis,
        "runtime_minutes": title.runtime_minutes,
        "popularity": title.popularity,
        "original_title": title.original_title,
        "maturity_rating": title.maturity_rating,
        "maturity_level": RATINGS.get(title.maturity_rating, _ALL_LEVELS),
        "cast_json": orjson.dumps(list(title.cast)).decode(),
        "artwork_json": orjson.dumps(artwork).decode(),
        "asset_ref": title.asset_ref,
        "sort_name": sort_key(title.name),
        "year_sort": title.year or 0,
    }


def _row_to_title(row: sa.Row[Any], seasons: tuple[Season, ...] = ()) -> Title:
    artwork = orjson.loads(row.artwork_json)
    return Title(
        id=row.id,
        name=row.name,
        year=row.year,
        kind=row.kind,
        genres=tuple(orjson.loads(row.genres)),
        synopsis=row.synopsis,
        runtime_minutes=row.runtime_minutes,
        popularity=row.popularity,
        original_title=row.original_title,
        maturity_rating=row.maturity_rating,
        cast=tuple(orjson.loads(row.cast_json)),
        artwork=Artwork(artwork.get("poster_url"), artwork.get("backdrop_url")),
        asset_ref=row.asset_ref,
        seasons=seasons,
    )


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    # Both engines speak INSERT ... ON CONFLICT; SQLAlchemy spells it per dialect.
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def _genre_ids(conn: AsyncConnection, names: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(names))
    if not wanted:
        return {}
    select = sa.select(genres_table.c.name, genres_table.c.id).where(
        genres_table.c.name.in_(wanted)
    )
    found = {r.name: r.id for r in await conn.execute(select)}
    missing = [n for n in wanted if n not in found]
    if missing:
        # Another instance may add the same genre at the same moment: the loser does nothing.
        stmt = _insert(conn, genres_table).on_conflict_do_nothing(index_elements=["name"])
        await conn.execute(stmt, [{"name": n} for n in missing])
        found = {r.name: r.id for r in await conn.execute(select)}
    return found


async def _insert_title_genres(
    conn: AsyncConnection, titles: Sequence[Title], genre_ids: dict[str, int]
) -> None:
    rows = [
        {
            "genre_id": genre_ids[name],
            "title_id": t.id,
            "popularity": t.popularity,
            "year_sort": t.year or 0,
            "sort_name": sort_key(t.name),
            "maturity_level": RATINGS.get(t.maturity_rating, _ALL_LEVELS),
        }
        for t in titles
        for name in dict.fromkeys(t.genres)
    ]
    if rows:
        await conn.execute(sa.insert(title_genres), rows)


async def _write(engine: AsyncEngine) -> AsyncConnection:
    conn = await engine.connect()
    # With the platform's SQLite hook this begins IMMEDIATE: a second instance writing
    # at the same moment waits for the lock instead of failing.
    return await conn.execution_options(matinee_sqlite_begin="IMMEDIATE")


class SqlTitles:
    """TitleRepository on a SQLAlchemy async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, title_id: int) -> Title:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(titles_table).where(titles_table.c.id == title_id))
            ).first()
            if row is None:
                raise TitleNotFound(title_id)
            seasons = await self._seasons(conn, title_id) if row.kind == "series" else ()
        return _row_to_title(row, seasons)

    async def _seasons(self, conn: AsyncConnection, title_id: int) -> tuple[Season, ...]:
        season_rows = await conn.execute(
            sa.select(seasons_table)
            .where(seasons_table.c.title_id == title_id)
            .order_by(seasons_table.c.number)
        )
        episode_rows = await conn.execute(
            sa.select(episodes_table)
            .where(episodes_table.c.title_id == title_id)
            .order_by(episodes_table.c.season_number, episodes_table.c.number)
        )
        episodes: dict[int, list[Episode]] = {}
        for e in episode_rows:
            episodes.setdefault(e.season_number, []).append(
                Episode(e.number, e.name, e.runtime_minutes, e.asset_ref, e.synopsis)
            )
        return tuple(
            Season(s.number, tuple(episodes.get(s.number, ())), s.name) for s in season_rows
        )

    async def get_many(self, title_ids: Sequence[int]) -> dict[int, Title]:
        """Return the titles among ``title_ids`` as summaries (seasons are not loaded)."""
        ids = list(dict.fromkeys(title_ids))
        if not ids:
            return {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(titles_table).where(titles_table.c.id.in_(ids)))
            return {row.id: _row_to_title(row) for row in rows}

    async def upsert(self, title: Title) -> bool:
        return (await self.upsert_many([title]))[0]

    async def upsert_many(self, titles: Sequence[Title]) -> list[bool]:
        if not titles:
            return []
        ids = [t.id for t in titles]
        conn = await _write(self._engine)
        try:
            async with conn.begin():
                existing = {
                    r.id
                    for r in await conn.execute(
                        sa.select(titles_table.c.id).where(titles_table.c.id.in_(ids))
                    )
                }
                if existing:
                    old = list(existing)
                    for table in (title_genres, episodes_table, seasons_table):
                        await conn.execute(sa.delete(table).where(table.c.title_id.in_(old)))
                stmt = _insert(conn, titles_table)
                update = {c.name: stmt.excluded[c.name] for c in titles_table.c if c.name != "id"}
                await conn.execute(
                    stmt.on_conflict_do_update(index_elements=["id"], set_=update),
                    [_title_values(t) for t in titles],
                )
                genre_ids = await _genre_ids(conn, {g for t in titles for g in t.genres})
                await _insert_title_genres(conn, titles, genre_ids)
                await self._insert_seasons(conn, titles)
        finally:
            await conn.close()
        return [t.id not in existing for t in titles]

    async def _insert_seasons(self, conn: AsyncConnection, titles: Sequence[Title]) -> None:
        seasons = [
            {"title_id": t.id, "number": s.number, "name": s.name}
            for t in titles
            for s in t.seasons
        ]
        episodes = [
            {
                "title_id": t.id,
                "season_number": s.number,
                "number": e.number,
                "name": e.name,
                "runtime_minutes": e.runtime_minutes,
                "asset_ref": e.asset_ref,
                "synopsis": e.synopsis,
            }
            for t in titles
            for s in t.seasons
            for e in s.episodes
        ]
        if seasons:
            await conn.execute(sa.insert(seasons_table), seasons)
        if episodes:
            await conn.execute(sa.insert(episodes_table), episodes)

    async def browse(
        self,
        *,
        sort: Sort,
        offset: int,
        limit: int,
        max_level: int,
        genre_id: int | None = None,
    ) -> Page:
        if genre_id is not None:
            table, id_column = title_genres, title_genres.c.title_id
        else:
            table, id_column = titles_table, titles_table.c.id
        order = {
            Sort.POPULARITY: (table.c.popularity.desc(), id_column),
            Sort.YEAR: (table.c.year_sort.desc(), id_column),
            Sort.TITLE: (table.c.sort_name, id_column),
        }[sort]
        where: list[sa.ColumnElement[bool]] = []
        if genre_id is not None:
            where.append(title_genres.c.genre_id == genre_id)
        if max_level < _ALL_LEVELS:
            where.append(table.c.maturity_level <= max_level)
        page_ids = sa.select(id_column).where(*where).order_by(*order).limit(limit).offset(offset)
        count = sa.select(sa.func.count()).select_from(table).where(*where)
        async with self._engine.connect() as conn:
            if genre_id is not None:
                exists = await conn.execute(
                    sa.select(genres_table.c.id).where(genres_table.c.id == genre_id)
                )
                if exists.first() is None:
                    raise GenreNotFound(genre_id)
            ids = [r[0] for r in await conn.execute(page_ids)]
            total = int((await conn.execute(count)).scalar_one())
            found: dict[int, Title] = {}
            if ids:
                rows = await conn.execute(sa.select(titles_table).where(titles_table.c.id.in_(ids)))
                found = {row.id: _row_to_title(row) for row in rows}
        return Page([found[i] for i in ids if i in found], total)

    async def genres(self) -> Sequence[Genre]:
        query = (
            sa.select(genres_table.c.id, genres_table.c.name, sa.func.count().label("titles"))
            .join(title_genres, title_genres.c.genre_id == genres_table.c.id)
            .group_by(genres_table.c.id, genres_table.c.name)
            .order_by(genres_table.c.name)
        )
        async with self._engine.connect() as conn:
            return [Genre(r.id, r.name, int(r.titles)) for r in await conn.execute(query)]

    async def genre(self, genre_id: int) -> Genre:
        query = (
            sa.select(genres_table.c.id, genres_table.c.name)
            .where(genres_table.c.id == genre_id)
            .add_columns(
                sa.select(sa.func.count())
                .where(title_genres.c.genre_id == genre_id)
                .scalar_subquery()
                .label("titles")
            )
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise GenreNotFound(genre_id)
        return Genre(row.id, row.name, int(row.titles))


class SqlLists:
    """ListRepository on a SQLAlchemy async engine (the catalog's own database)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def lists(self) -> Sequence[CuratedList]:
        async with self._engine.connect() as conn:
            heads = (
                await conn.execute(
                    sa.select(lists_table).order_by(lists_table.c.name, lists_table.c.id)
                )
            ).all()
            items = await conn.execute(
                sa.select(list_items.c.list_id, list_items.c.title_id).order_by(
                    list_items.c.list_id, list_items.c.position
                )
            )
            by_list: dict[str, list[int]] = {}
            for item in items:
                by_list.setdefault(item.list_id, []).append(item.title_id)
        return [
            CuratedList(h.id, h.name, h.description, tuple(by_list.get(h.id, ()))) for h in heads
        ]

    async def get_list(self, list_id: str) -> CuratedList:
        async with self._engine.connect() as conn:
            head = (
                await conn.execute(sa.select(lists_table).where(lists_table.c.id == list_id))
            ).first()
            if head is None:
                raise ListNotFound(list_id)
            items = await conn.execute(
                sa.select(list_items.c.title_id)
                .where(list_items.c.list_id == list_id)
                .order_by(list_items.c.position)
            )
            title_ids = tuple(r.title_id for r in items)
        return CuratedList(head.id, head.name, head.description, title_ids)

    async def put_list(self, curated: CuratedList) -> bool:
        conn = await _write(self._engine)
        try:
            async with conn.begin():
                ids = list(dict.fromkeys(curated.title_ids))
                known: set[int] = set()
                if ids:
                    known = {
                        r.id
                        for r in await conn.execute(
                            sa.select(titles_table.c.id).where(titles_table.c.id.in_(ids))
                        )
                    }
                missing = [i for i in curated.title_ids if i not in known]
                if missing:
                    raise UnknownTitles(missing)
                deleted = await conn.execute(
                    sa.delete(lists_table).where(lists_table.c.id == curated.id)
                )
                await conn.execute(sa.delete(list_items).where(list_items.c.list_id == curated.id))
                await conn.execute(
                    sa.insert(lists_table).values(
                        id=curated.id, name=curated.name, description=curated.description
                    )
                )
                if curated.title_ids:
                    await conn.execute(
                        sa.insert(list_items),
                        [
                            {"list_id": curated.id, "position": i, "title_id": t}
                            for i, t in enumerate(curated.title_ids)
                        ],
                    )
        finally:
            await conn.close()
        return not deleted.rowcount

    async def delete_list(self, list_id: str) -> None:
        conn = await _write(self._engine)
        try:
            async with conn.begin():
                deleted = await conn.execute(
                    sa.delete(lists_table).where(lists_table.c.id == list_id)
                )
                await conn.execute(sa.delete(list_items).where(list_items.c.list_id == list_id))
        finally:
            await conn.close()
        if not deleted.rowcount:
            raise ListNotFound(list_id)
