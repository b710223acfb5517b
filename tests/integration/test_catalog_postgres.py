"""The catalog's SQL adapter on real PostgreSQL (and the same checks on SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from matinee.platform.storage import Database
from matinee.services.catalog.domain.model import (
    CuratedList,
    Episode,
    GenreNotFound,
    ListNotFound,
    Season,
    Title,
    UnknownTitles,
)
from matinee.services.catalog.domain.rules import Sort
from matinee.services.catalog.storage import MIGRATIONS, SqlLists, SqlTitles

TITLES = [
    Title(1, "The Matrix", 1999, genres=("Action", "Sci-Fi"), popularity=9, maturity_rating="R"),
    Title(2, "Toy Story", 1995, genres=("Animation",), popularity=8, maturity_rating="G"),
    Title(3, "Alien", 1979, genres=("Sci-Fi", "Horror"), popularity=7, maturity_rating="R"),
    Title(4, "Unknown Year", None, genres=("Sci-Fi",), popularity=1),
    Title(
        5,
        "Night Shift",
        2020,
        kind="series",
        genres=("Sci-Fi",),
        popularity=5,
        maturity_rating="TV-14",
        cast=("A. Actor",),
        seasons=(
            Season(1, (Episode(1, "Pilot", 40, "ns-1-1"), Episode(2, "Two", 41))),
            Season(2, (Episode(1, "Back", 42, "ns-2-1"),), "Second"),
        ),
    ),
]


@pytest.fixture(params=["postgres", "sqlite"])
def database_url(request, tmp_path: Path) -> str:
    if request.param == "postgres":
        # Looked up only here, so SQLite runs even when PostgreSQL is not configured.
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database("catalog", database_url)
    assert await db.start(MIGRATIONS)
    try:
        yield db
    finally:
        await db.close()


async def test_titles_round_trip_whole(database: Database) -> None:
    titles = SqlTitles(database.engine)
    assert await titles.upsert_many(TITLES) == [True] * len(TITLES)
    assert await titles.upsert_many(TITLES[:2]) == [False, False]
    series = await titles.get(5)
    assert series == TITLES[4]
    summaries = await titles.get_many([5, 1, 99])
    assert set(summaries) == {1, 5} and summaries[5].seasons == ()


async def test_browse_each_order_with_maturity_and_pages(database: Database) -> None:
    titles = SqlTitles(database.engine)
    await titles.upsert_many(TITLES)
    genres = {g.name: g for g in await titles.genres()}
    assert {n: g.title_count for n, g in genres.items()} == {
        "Action": 1, "Animation": 1, "Horror": 1, "Sci-Fi": 4,
    }  # fmt: skip
    scifi = genres["Sci-Fi"].id

    async def ids(sort: Sort, level: int = 5, offset: int = 0, limit: int = 10) -> list[int]:
        page = await titles.browse(
            sort=sort, offset=offset, limit=limit, max_level=level, genre_id=scifi
        )
        return [t.id for t in page.items]

    assert await ids(Sort.POPULARITY) == [1, 3, 5, 4]
    assert await ids(Sort.YEAR) == [5, 1, 3, 4]  # unknown year last
    assert await ids(Sort.TITLE) == [3, 1, 5, 4]  # "The Matrix" files under M
    assert await ids(Sort.TITLE, offset=1, limit=2) == [1, 5]
    assert await ids(Sort.POPULARITY, level=2) == [5]
    everything = await titles.browse(sort=Sort.POPULARITY, offset=0, limit=2, max_level=1)
    assert [t.id for t in everything.items] == [2] and everything.total == 1
    with pytest.raises(GenreNotFound):
        await titles.browse(sort=Sort.YEAR, offset=0, limit=5, max_level=5, genre_id=9999)


async def test_a_title_that_changes_genres_moves_between_them(database: Database) -> None:
    titles = SqlTitles(database.engine)
    await titles.upsert_many(TITLES)
    await titles.upsert(Title(3, "Alien", 1979, genres=("Horror",), popularity=7))
    names = {g.name: g.title_count for g in await titles.genres()}
    assert names["Sci-Fi"] == 3 and names["Horror"] == 1


async def test_two_writers_adding_the_same_new_genre_both_succeed(database: Database) -> None:
    a, b = SqlTitles(database.engine), SqlTitles(database.engine)
    await asyncio.gather(
        a.upsert(Title(10, "One", genres=("Western",))),
        b.upsert(Title(11, "Two", genres=("Western",))),
    )
    western = [g for g in await a.genres() if g.name == "Western"]
    assert len(western) == 1 and western[0].title_count == 2


async def test_lists_keep_order_and_refuse_unknown_titles(database: Database) -> None:
    titles, lists = SqlTitles(database.engine), SqlLists(database.engine)
    await titles.upsert_many(TITLES)
    assert await lists.put_list(CuratedList("picks", "Picks", "ours", (3, 1, 5))) is True
    assert await lists.put_list(CuratedList("picks", "Picks", "ours", (5, 3))) is False
    assert (await lists.get_list("picks")).title_ids == (5, 3)
    with pytest.raises(UnknownTitles):
        await lists.put_list(CuratedList("other", "Other", "", (1, 77)))
    assert [c.id for c in await lists.lists()] == ["picks"]
    await lists.delete_list("picks")
    with pytest.raises(ListNotFound):
        await lists.delete_list("picks")


async def test_titles_of_version_1_are_browsable_after_the_upgrade(
    database: Database, tmp_path: Path
) -> None:
    # Start over on a database that only has migration 1 and one title stored by it.
    url = database.url.render_as_string(hide_password=False)
    await database.close()
    fresh = str(url).replace("catalog.db", "v1.db") if database.is_sqlite else None
    if fresh is None:
        pytest.skip("the upgrade path is checked on SQLite; PostgreSQL runs the same SQL")
    old = Database("catalog", fresh)
    assert await old.start(MIGRATIONS[:1])
    async with old.write() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO titles (id, name, year, genres, popularity)"
            " VALUES (7, 'Heat', 1995, '[\"Crime\"]', 3)"
        )
    await old.close()
    upgraded = Database("catalog", fresh)
    assert await upgraded.start(MIGRATIONS)
    try:
        titles = SqlTitles(upgraded.engine)
        crime = [g for g in await titles.genres() if g.name == "Crime"]
        assert crime and crime[0].title_count == 1
        page = await titles.browse(
            sort=Sort.TITLE, offset=0, limit=5, max_level=5, genre_id=crime[0].id
        )
        assert [t.name for t in page.items] == ["Heat"]
        assert (await titles.get(7)).maturity_rating == "NR"
    finally:
        await upgraded.close()
