"""Titles in SQL (SQLite by default, PostgreSQL when configured), through SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from matinee.platform.storage import Migration
from matinee.services.catalog.domain.model import Title, TitleNotFound

__all__ = ["MIGRATIONS", "SqlTitles", "titles_table"]

metadata = sa.MetaData()

titles_table = sa.Table(
    "titles",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("year", sa.Integer),
    sa.Column("kind", sa.String(16), nullable=False, server_default="movie"),
    # A JSON array as text: portable across SQLite and PostgreSQL, read whole every time.
    sa.Column("genres", sa.Text, nullable=False, server_default="[]"),
    sa.Column("synopsis", sa.Text, nullable=False, server_default=""),
    sa.Column("runtime_minutes", sa.Integer),
    sa.Column("popularity", sa.Float, nullable=False, server_default="0"),
    sa.Index("ix_titles_popularity", sa.text("popularity DESC"), "id"),
)


async def _create_titles(conn: AsyncConnection) -> None:
    await conn.run_sync(lambda sync: titles_table.create(sync, checkfirst=True))


MIGRATIONS = [Migration(1, "create titles", _create_titles)]


def _row_to_title(row: sa.Row) -> Title:
    return Title(
        id=row.id,
        name=row.name,
        year=row.year,
        kind=row.kind,
        genres=tuple(orjson.loads(row.genres)),
        synopsis=row.synopsis,
        runtime_minutes=row.runtime_minutes,
        popularity=row.popularity,
    )


class SqlTitles:
    """TitleRepository on a SQLAlchemy async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, title_id: int) -> Title:
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(titles_table).where(titles_table.c.id == title_id)
            )
            row = result.first()
        if row is None:
            raise TitleNotFound(title_id)
        return _row_to_title(row)

    async def upsert(self, title: Title) -> bool:
        values = {
            "name": title.name,
            "year": title.year,
            "kind": title.kind,
            "genres": orjson.dumps(list(title.genres)).decode(),
            "synopsis": title.synopsis,
            "runtime_minutes": title.runtime_minutes,
            "popularity": title.popularity,
        }
        async with self._engine.begin() as conn:
            updated = await conn.execute(
                sa.update(titles_table).where(titles_table.c.id == title.id).values(**values)
            )
            if updated.rowcount:
                return False
            try:
                # A savepoint, so losing an insert race to another instance only retries.
                async with conn.begin_nested():
                    await conn.execute(sa.insert(titles_table).values(id=title.id, **values))
            except sa.exc.IntegrityError:
                await conn.execute(
                    sa.update(titles_table).where(titles_table.c.id == title.id).values(**values)
                )
                return False
            return True

    async def list_popular(self, limit: int, offset: int) -> Sequence[Title]:
        query = (
            sa.select(titles_table)
            .order_by(titles_table.c.popularity.desc(), titles_table.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_row_to_title(row) for row in rows]
