"""The node's pure parts: safe keys, LRU accounting, single flight, prefill plans, ranges."""

from __future__ import annotations

import asyncio

import pytest

from matinee.platform.httpserver import RangeNotSatisfiable, byte_range
from matinee.services.cdn.domain import (
    ByteLru,
    Pacer,
    SingleFlight,
    UnsafePath,
    object_key,
    prefill_plan,
)


@pytest.mark.parametrize(
    "path",
    [
        "../secret",
        "720p/../../etc/passwd",
        "..",
        "/etc/passwd",
        "720p//seg.m4s",
        "720p\\..\\seg.m4s",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e/x",
        ".hidden",
        "a/b/c/d/e",
        "seg\x00.m4s",
        "",
    ],
)
def test_paths_that_could_leave_the_cache_are_refused(path):
    with pytest.raises(UnsafePath):
        object_key("asset1", path)


def test_object_keys_name_asset_and_path():
    assert object_key("a1", "720p/seg_1.m4s") == "a1/720p/seg_1.m4s"
    with pytest.raises(UnsafePath):
        object_key("..", "master.m3u8")


def test_lru_evicts_least_recently_used_within_the_byte_capacity():
    lru = ByteLru(100)
    assert lru.add("a/1", 40) == []
    assert lru.add("a/2", 40) == []
    lru.touch("a/1")
    assert lru.add("b/3", 40) == ["a/2"]
    assert lru.used == 80
    assert lru.keys() == ["a/1", "b/3"]
    assert lru.assets() == ["a", "b"]


def test_lru_never_evicts_a_pinned_object_and_evicts_once_released():
    lru = ByteLru(100)
    lru.add("a/1", 60)
    lru.pin("a/1")
    assert lru.add("a/2", 60) == []  # over capacity for now: a/1 is being served
    assert lru.used == 120
    assert lru.unpin("a/1") == ["a/1"]
    assert lru.used == 60


def test_lru_replacing_an_object_accounts_its_new_size():
    lru = ByteLru(100)
    lru.add("a/1", 30)
    lru.add("a/1", 50)
    assert lru.used == 50 and len(lru) == 1
    assert lru.remove("a/1") and lru.used == 0 and lru.assets() == []


async def test_single_flight_runs_the_work_once_for_every_waiter():
    flights: SingleFlight[int] = SingleFlight()
    calls = 0
    gate = asyncio.Event()

    async def work() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 7

    waiters = [asyncio.ensure_future(flights.wait("k", work)) for _ in range(100)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiters) == [7] * 100
    assert calls == 1 and flights.started == 1 and "k" not in flights


async def test_a_failed_flight_is_not_remembered():
    flights: SingleFlight[int] = SingleFlight()
    outcomes = iter([RuntimeError("origin down"), 5])

    async def work() -> int:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(RuntimeError):
        await flights.wait("k", work)
    assert await flights.wait("k", work) == 5


async def test_a_waiter_giving_up_does_not_cancel_the_flight():
    flights: SingleFlight[int] = SingleFlight()
    gate = asyncio.Event()

    async def work() -> int:
        await gate.wait()
        return 1

    impatient = asyncio.ensure_future(flights.wait("k", work))
    patient = asyncio.ensure_future(flights.wait("k", work))
    await asyncio.sleep(0)
    impatient.cancel()
    gate.set()
    assert await patient == 1


def test_prefill_plan_lists_playlists_first_then_segments_across_rungs():
    ladder = {
        "hls": "master.m3u8",
        "dash": "manifest.mpd",
        "rungs": [
            {"playlist": "240p/index.m3u8", "init": "240p/init.mp4",
             "segments": ["240p/seg_1.m4s", "240p/seg_2.m4s"]},
            {"playlist": "480p/index.m3u8", "init": "480p/init.mp4",
             "segments": ["480p/seg_1.m4s", "480p/seg_2.m4s"]},
        ],
        "audio": {"playlist": "audio/index.m3u8", "init": "audio/init.mp4",
                  "segments": ["audio/seg_1.m4s"]},
    }  # fmt: skip
    plan = prefill_plan(ladder)
    assert plan[:2] == ["master.m3u8", "manifest.mpd"]
    assert plan.index("480p/init.mp4") < plan.index("240p/seg_1.m4s")
    assert plan[-5:] == [
        "240p/seg_1.m4s", "480p/seg_1.m4s", "audio/seg_1.m4s", "240p/seg_2.m4s", "480p/seg_2.m4s",
    ]  # fmt: skip


def test_pacer_spaces_fetches_to_the_rate():
    pacer = Pacer(1000.0, start=0.0)
    assert pacer.delay_after(500, now=0.1) == pytest.approx(0.4)
    assert pacer.delay_after(500, now=2.0) == 0.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"bytes=0-99", (0, 100)),
        (b"bytes=100-", (100, 1000)),
        (b"bytes=-100", (900, 1000)),
        (b"bytes=990-5000", (990, 1000)),
        (b"bytes=0-1,5-6", None),  # multi-range: the whole file
        (b"items=0-1", None),
        (b"bytes=abc", None),
        (b"bytes=9-3", None),
    ],
)
def test_byte_ranges(header, expected):
    assert byte_range(header, 1000) == expected


def test_a_range_past_the_end_is_not_satisfiable():
    with pytest.raises(RangeNotSatisfiable):
        byte_range(b"bytes=1000-", 1000)
