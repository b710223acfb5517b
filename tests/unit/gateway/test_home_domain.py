"""Home assembly: every source on its own deadline; failures fall back, the page stands."""

from __future__ import annotations

import asyncio

from matinee.services.gateway.domain.home import Row, RowCache, RowSource, assemble_home


def rows(*ids: str) -> list[Row]:
    return [Row(i, i.title(), [{"id": n} for n in range(3)]) for i in ids]


def source(name: str, result=None, *, delay: float = 0.0, error: Exception | None = None):
    async def fetch():
        await asyncio.sleep(delay)
        if error is not None:
            raise error
        return result

    return RowSource(name, fetch, timeout=0.05)


async def test_rows_keep_source_order_and_duplicates_show_once():
    page = await assemble_home(
        [source("popular", rows("popular")), source("genres", rows("drama", "popular"))],
        audience="adult",
        cache=RowCache(fresh_for=0),
    )
    assert [r.id for r in page.rows] == ["popular", "drama"]
    assert page.degraded == []


async def test_a_failed_or_late_first_fetch_costs_its_rows_not_the_page():
    page = await assemble_home(
        [
            source("popular", rows("popular")),
            source("lists", error=ConnectionError("catalog down")),
            source("genres", rows("drama"), delay=1.0),  # beyond its 50 ms deadline
        ],
        audience="adult",
        cache=RowCache(fresh_for=0),
    )
    assert [r.id for r in page.rows] == ["popular"]
    assert page.degraded == ["lists", "genres"]


async def test_stale_rows_are_served_at_once_and_a_failed_refresh_is_reported():
    cache = RowCache(fresh_for=0)
    await assemble_home([source("lists", rows("staff-picks"))], audience="adult", cache=cache)
    down = [source("lists", error=ConnectionError("catalog down"))]
    hung = [source("lists", rows("new-picks"), delay=10.0)]

    # The page never waits: the last good rows come back while a refresh runs behind.
    first = await assemble_home(down, audience="adult", cache=cache)
    assert [r.id for r in first.rows] == ["staff-picks"]
    await asyncio.sleep(0.01)  # the background refresh fails...
    second = await assemble_home(hung, audience="adult", cache=cache)
    assert [r.id for r in second.rows] == ["staff-picks"]
    assert second.degraded == ["lists"]  # ...and the page says so until one succeeds
    await asyncio.sleep(0.1)  # the hung refresh misses its deadline behind the scenes
    healed = [source("lists", rows("new-picks"))]
    await assemble_home(healed, audience="adult", cache=cache)
    await asyncio.sleep(0.01)
    third = await assemble_home(healed, audience="adult", cache=cache)
    assert [r.id for r in third.rows] == ["new-picks"] and third.degraded == []


async def test_fallback_rows_are_per_audience():
    cache = RowCache(fresh_for=0)
    await assemble_home([source("popular", rows("adult-hits"))], audience="adult", cache=cache)
    page = await assemble_home(
        [source("popular", error=TimeoutError())], audience="kids", cache=cache
    )
    assert page.rows == [] and page.degraded == ["popular"]


async def test_empty_rows_are_left_out():
    page = await assemble_home(
        [source("lists", [Row("empty", "Empty", [])])],
        audience="adult",
        cache=RowCache(fresh_for=0),
    )
    assert page.rows == []


async def test_fresh_rows_are_reused_and_concurrent_requests_share_one_fetch():
    calls = []

    async def fetch():
        calls.append(1)
        await asyncio.sleep(0.01)
        return rows("popular")

    cache = RowCache(fresh_for=60)
    source = RowSource("popular", fetch, timeout=1)
    pages = await asyncio.gather(
        *(assemble_home([source], audience="adult", cache=cache) for _ in range(20))
    )
    assert all([r.id for r in p.rows] == ["popular"] for p in pages)
    await assemble_home([source], audience="adult", cache=cache)
    assert len(calls) == 1
