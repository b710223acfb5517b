"""The reference player's parts: the HLS it reads and the trace it throttles to."""

from __future__ import annotations

import json

import pytest

from matinee.services.playback.player import Throttle, load_trace, parse_master, parse_media

MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=25.000,AUDIO="aud"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=500000,AVERAGE-BANDWIDTH=400000,CODECS="avc1.42c015,mp4a.40.2",RESOLUTION=426x240,FRAME-RATE=25.000,AUDIO="aud"
240p/index.m3u8
"""
MEDIA = """#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.000000,
seg_1.m4s
#EXTINF:1.300000,
seg_2.m4s
#EXT-X-ENDLIST
"""


def test_master_variants_come_lowest_first_with_the_audio_rendition():
    variants, audio = parse_master(MASTER, "")
    assert [v.height for v in variants] == [240, 720]
    assert variants[1].uri == "720p/index.m3u8" and variants[1].bandwidth == 3_000_000
    assert audio == "audio/index.m3u8"


def test_media_playlist_resolves_against_its_folder():
    media = parse_media(MEDIA, "720p/")
    assert media.init == "720p/init.mp4"
    assert media.segments == [("720p/seg_1.m4s", 4.0), ("720p/seg_2.m4s", 1.3)]


def test_garbage_is_not_a_playlist():
    with pytest.raises(ValueError):
        parse_master("<html>", "")
    with pytest.raises(ValueError):
        parse_master("#EXTM3U\n", "")


def test_transfer_time_follows_the_trace_across_periods_and_loops():
    throttle = Throttle([(1.0, 1000.0, 0.05), (1.0, 500.0, 0.1)], clock=lambda: 0.0)
    assert throttle.transfer_seconds(500_000, 0.0) == pytest.approx(0.5)
    # 1,000 kbit in the first second, then 500 kbit/s: 1,250 kbit take 1.5 s.
    assert throttle.transfer_seconds(1_250_000, 0.0) == pytest.approx(1.5)
    # Looped: at t=2.0 the trace starts again.
    assert throttle.transfer_seconds(500_000, 2.0) == pytest.approx(0.5)
    assert throttle.latency_now() == 0.05


async def test_consume_waits_as_long_as_the_link_needs():
    now = [0.0]
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    throttle = Throttle([(10.0, 800.0, 0.0)], clock=lambda: now[0], sleep=sleep)
    await throttle.consume(50_000)  # 400 kbit at 800 kbit/s
    await throttle.consume(50_000)
    assert sum(slept) == pytest.approx(1.0)


def test_unlimited_never_waits_and_traces_are_validated(tmp_path):
    assert not Throttle.unlimited().shaping
    good = tmp_path / "t.json"
    good.write_text(json.dumps([{"duration_ms": 1000, "bandwidth_kbps": 100, "latency_ms": 20}]))
    assert load_trace(good) == [(1.0, 100.0, 0.02)]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"duration_ms": 1000, "bandwidth_kbps": 0, "latency_ms": 20}]))
    with pytest.raises(ValueError):
        load_trace(bad)
