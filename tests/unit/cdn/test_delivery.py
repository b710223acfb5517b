"""Signed delivery on fake connections: what a player sees, and what the origin sees."""

from __future__ import annotations

import asyncio
import os
import time

import orjson

from matinee.services.cdn.domain import OriginUnavailable
from tests.unit.cdn.fakes import SIGNER, World, signed

SEGMENT = bytes(range(256)) * 8000  # 2 MB, served from disk
PLAYLIST = b"#EXTM3U\n#EXT-X-VERSION:7\n"
OBJECTS = {"a1/720p/seg_1.m4s": SEGMENT, "a1/master.m3u8": PLAYLIST}


async def test_a_miss_fills_from_the_origin_then_hits(tmp_path):
    world = World(tmp_path, OBJECTS)
    status, headers, body = await world.get(signed("a1", "720p/seg_1.m4s"))
    assert (status, headers["x-cache"], body) == (200, "MISS", SEGMENT)
    assert headers["content-type"] == "video/iso.segment"
    assert "immutable" in headers["cache-control"]
    assert headers["accept-ranges"] == "bytes"
    status, headers, body = await world.get(signed("a1", "720p/seg_1.m4s"))
    assert (status, headers["x-cache"], body) == (200, "HIT", SEGMENT)
    assert world.origin.fetches == ["a1/720p/seg_1.m4s"]
    assert (tmp_path / "a1" / "720p" / "seg_1.m4s").read_bytes() == SEGMENT


async def test_playlists_are_cached_briefly_and_small_objects_answer_from_memory(tmp_path):
    world = World(tmp_path, OBJECTS)
    await world.get(signed("a1", "master.m3u8"))
    (tmp_path / "a1" / "master.m3u8").unlink()  # memory answers without the disk
    status, headers, body = await world.get(signed("a1", "master.m3u8"))
    assert (status, body) == (200, PLAYLIST)
    assert headers["content-type"] == "application/vnd.apple.mpegurl"
    assert headers["cache-control"] == "public, max-age=10"


async def test_one_hundred_concurrent_requests_cause_one_origin_fill(tmp_path):
    world = World(tmp_path, OBJECTS)
    world.origin.gate = asyncio.Event()
    url = signed("a1", "720p/seg_1.m4s")
    conns = [world.send("GET", url)[1] for _ in range(100)]
    await asyncio.sleep(0.01)
    world.origin.gate.set()
    for _ in range(200):
        if all(c.done for c in conns):
            break
        await asyncio.sleep(0.01)
    assert world.origin.fetches == ["a1/720p/seg_1.m4s"]
    assert all(c.response()[0] == 200 and c.response()[2] == SEGMENT for c in conns)


async def test_byte_ranges_are_served_from_the_cache_and_after_a_fill(tmp_path):
    world = World(tmp_path, OBJECTS)
    status, headers, body = await world.get(
        signed("a1", "720p/seg_1.m4s"), {"Range": "bytes=100-199"}
    )
    assert (status, body) == (206, SEGMENT[100:200])  # a miss: filled whole, then the range
    assert headers["content-range"] == f"bytes 100-199/{len(SEGMENT)}"
    status, headers, body = await world.get(signed("a1", "720p/seg_1.m4s"), {"Range": "bytes=-10"})
    assert (status, headers["x-cache"], body) == (206, "HIT", SEGMENT[-10:])
    status, _, body = await world.get(signed("a1", "master.m3u8"), {"Range": "bytes=0-6"})
    assert (status, body) == (206, PLAYLIST[:7])
    assert (tmp_path / "a1" / "720p" / "seg_1.m4s").stat().st_size == len(SEGMENT)


async def test_a_range_past_the_end_gets_416(tmp_path):
    world = World(tmp_path, OBJECTS)
    status, headers, _ = await world.get(
        signed("a1", "720p/seg_1.m4s"), {"Range": f"bytes={len(SEGMENT)}-"}
    )
    assert status == 416
    assert headers["content-range"] == f"bytes */{len(SEGMENT)}"


async def test_head_sends_the_length_but_no_body(tmp_path):
    world = World(tmp_path, OBJECTS)
    status, headers, body = await world.get(signed("a1", "720p/seg_1.m4s"), method="HEAD")
    assert (status, int(headers["content-length"]), body) == (200, len(SEGMENT), b"")


async def test_expired_tampered_and_foreign_tokens_get_403(tmp_path):
    world = World(tmp_path, OBJECTS)
    expired = signed("a1", "master.m3u8", ttl=-5)
    good = signed("a1", "master.m3u8")
    token = good.split("/")[2]
    tampered = good.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    other_session = token.replace(".sess1.", ".sess2.")
    for url in (
        expired,
        tampered,
        good.replace(token, other_session),
        good.replace("/a1/", "/a2/"),  # a token for another asset
        "/s/garbage/a1/master.m3u8",
    ):
        status, headers, body = await world.get(url)
        assert status == 403, url
        assert orjson.loads(body)["status"] == 403
        assert headers["access-control-allow-origin"] == "*"
    assert world.origin.fetches == []


async def test_a_cached_token_stops_working_when_it_expires(tmp_path):
    now = [time.time()]
    world = World(tmp_path, OBJECTS)
    world.delivery.clock = lambda: now[0]
    url = SIGNER.path("a1", "sess1", now[0] + 5, "master.m3u8")
    assert (await world.get(url))[0] == 200
    now[0] += 10
    assert (await world.get(url))[0] == 403


async def test_traversal_attempts_never_reach_outside_the_cache(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    world = World(tmp_path / "cache", OBJECTS)
    token = signed("a1", "x").split("/")[2]
    for tail in (
        "a1/../../secret.txt",
        "a1/..%2f..%2fsecret.txt",
        "a1/%2e%2e/%2e%2e/secret.txt",
        "a1/..\\..\\secret.txt",
        "a1//etc/passwd",
        "../secret.txt",
        "a1/720p/../../../secret.txt",
    ):
        status, _, body = await world.get(f"/s/{token}/{tail}")
        assert status == 404, tail
        assert b"do not serve" not in body
    assert world.origin.fetches == []


async def test_cors_preflight_allows_range(tmp_path):
    world = World(tmp_path, OBJECTS)
    status, headers, _ = await world.get(
        signed("a1", "720p/seg_1.m4s"),
        {"Origin": "https://player.example", "Access-Control-Request-Headers": "range"},
        method="OPTIONS",
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == "*"
    assert "range" in headers["access-control-allow-headers"]
    assert "GET" in headers["access-control-allow-methods"]
    _, headers, _ = await world.get(signed("a1", "master.m3u8"))
    assert "content-range" in headers["access-control-expose-headers"]
    assert "content-length" in headers["access-control-expose-headers"]


async def test_fill_failures_are_502_or_504_and_do_not_poison_the_cache(tmp_path):
    world = World(tmp_path, OBJECTS)
    world.origin.failure = OriginUnavailable("media unavailable: connection")
    assert (await world.get(signed("a1", "720p/seg_1.m4s")))[0] == 502
    world.origin.failure = OriginUnavailable("media unavailable: timeout", timed_out=True)
    assert (await world.get(signed("a1", "720p/seg_1.m4s")))[0] == 504
    assert not (tmp_path / "a1").exists()
    world.origin.failure = None
    status, headers, body = await world.get(signed("a1", "720p/seg_1.m4s"))
    assert (status, headers["x-cache"], body) == (200, "MISS", SEGMENT)


async def test_an_object_the_origin_lacks_is_404_and_not_cached(tmp_path):
    world = World(tmp_path, OBJECTS)
    assert (await world.get(signed("a1", "720p/seg_9.m4s")))[0] == 404
    assert (await world.get(signed("a1", "720p/seg_9.m4s")))[0] == 404
    assert len(world.origin.fetches) == 2


async def test_a_failed_write_leaves_no_partial_object(tmp_path):
    world = World(tmp_path, OBJECTS)
    # A directory where the object's file should go: the final rename fails.
    (tmp_path / "a1" / "720p" / "seg_1.m4s").mkdir(parents=True)
    assert (await world.get(signed("a1", "720p/seg_1.m4s")))[0] == 502
    assert os.listdir(tmp_path / ".tmp") == []
    assert world.cache.used_bytes == 0


async def test_least_recently_used_objects_are_evicted_under_the_capacity(tmp_path):
    objects = {f"a1/720p/seg_{i}.m4s": bytes([i]) * 4000 for i in range(1, 5)}
    world = World(tmp_path, objects, capacity=10_000)
    for i in (1, 2):
        await world.get(signed("a1", f"720p/seg_{i}.m4s"))
    await world.get(signed("a1", "720p/seg_1.m4s"))  # seg_1 is now the most recent
    await world.get(signed("a1", "720p/seg_3.m4s"))
    assert world.cache.used_bytes == 8000
    assert sorted(p.name for p in (tmp_path / "a1" / "720p").iterdir()) == [
        "seg_1.m4s", "seg_3.m4s",
    ]  # fmt: skip
    assert world.node.status()["used_bytes"] == 8000


async def test_an_object_being_served_is_never_evicted(tmp_path):
    objects = {f"a1/720p/seg_{i}.m4s": bytes([i]) * 6000 for i in range(1, 3)}
    world = World(tmp_path, objects, capacity=10_000)
    await world.get(signed("a1", "720p/seg_1.m4s"))
    serving = world.cache.get("a1/720p/seg_1.m4s")
    assert serving is not None
    world.cache.pin(serving)
    status, _, body = await world.get(signed("a1", "720p/seg_2.m4s"))
    assert (status, body) == (200, bytes([2]) * 6000)
    # seg_1 is older but in use: the only object that could make room was seg_2.
    assert (tmp_path / "a1" / "720p" / "seg_1.m4s").exists()
    assert not (tmp_path / "a1" / "720p" / "seg_2.m4s").exists()
    world.cache.release(serving)
    assert world.cache.used_bytes == 6000 <= world.cache.capacity_bytes


async def test_the_cache_survives_a_restart(tmp_path):
    world = World(tmp_path, OBJECTS)
    await world.get(signed("a1", "720p/seg_1.m4s"))
    await world.get(signed("a1", "master.m3u8"))
    (tmp_path / ".tmp" / "leftover").write_bytes(b"half a fill")
    world.start()
    assert world.cache.used_bytes == len(SEGMENT) + len(PLAYLIST)
    assert not (tmp_path / ".tmp" / "leftover").exists()
    status, headers, body = await world.get(signed("a1", "720p/seg_1.m4s"))
    assert (status, headers["x-cache"], body) == (200, "HIT", SEGMENT)
    assert len(world.origin.fetches) == 2
    assert world.node.status()["assets"] == ["a1"]


async def test_other_paths_go_to_the_chassis_app(tmp_path):
    world = World(tmp_path, OBJECTS)
    assert (await world.get("/node"))[2] == b"local"
    assert world.local.seen == ["/node"]


async def test_other_methods_are_refused(tmp_path):
    world = World(tmp_path, OBJECTS)
    status, headers, _ = await world.get(signed("a1", "master.m3u8"), method="DELETE")
    assert status == 405 and "GET" in headers["allow"]


def _samples(world) -> dict[str, float]:
    """Return the delivery series of the node's /metrics text, name{labels} -> value."""
    out = {}
    for line in world.metrics.render().decode().splitlines():
        if line.startswith("matinee_cdn_delivery") and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


async def test_deliveries_are_counted_by_cache_result_and_status(tmp_path):
    world = World(tmp_path, OBJECTS)
    await world.get(signed("a1", "720p/seg_1.m4s"))  # miss, filled
    await world.get(signed("a1", "720p/seg_1.m4s"))  # hit
    await world.get(signed("a1", "master.m3u8"))  # miss, small: from memory
    await world.get(signed("a1", "720p/seg_1.m4s"), {"range": "bytes=0-99"})  # hit, 206
    await world.get(signed("a1", "missing.m4s"))  # miss, the origin has none
    await world.get(signed("a1", "master.m3u8", ttl=-5))  # refused before any lookup
    samples = _samples(world)
    count = 'matinee_cdn_delivery_seconds_count{cache="%s",code="%s"}'
    assert samples[count % ("miss", "200")] == 2
    assert samples[count % ("hit", "200")] == 1
    assert samples[count % ("hit", "206")] == 1
    assert samples[count % ("miss", "404")] == 1
    assert samples[count % ("none", "403")] == 1
    sent = 'matinee_cdn_delivery_bytes_total{cache="%s"}'
    assert samples[sent % "hit"] == len(SEGMENT) + 100
    assert samples[sent % "miss"] == len(SEGMENT) + len(PLAYLIST)
