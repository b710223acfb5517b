"""Ladder selection: never upscaled, shaped by the source's complexity."""

from __future__ import annotations

import pytest

from matinee.services.media.domain import SourceInfo, Unplayable, choose_ladder, complexity_of


def source(width: int, height: int, fps: float = 25.0, duration: float = 60.0) -> SourceInfo:
    return SourceInfo(width, height, duration, fps, "h264", has_audio=True)


@pytest.mark.parametrize(
    ("width", "height"),
    [(3840, 2160), (1920, 1080), (1280, 720), (1000, 600), (640, 360), (320, 180), (1080, 1920)],
)
def test_no_rung_is_larger_than_the_source(width, height):
    rungs = choose_ladder(source(width, height), complexity=1.0)
    assert rungs
    for rung in rungs:
        assert rung.width <= width and rung.height <= height
        assert rung.width % 2 == 0 and rung.height % 2 == 0


def test_a_1080p_source_gets_the_classic_ladder_up_to_its_own_height():
    names = [r.name for r in choose_ladder(source(1920, 1080))]
    assert names == ["240p", "360p", "480p", "720p", "1080p"]


def test_the_top_rung_keeps_the_sources_resolution_between_two_table_heights():
    top = choose_ladder(source(1000, 600))[-1]
    assert (top.width, top.height) == (1000, 600)


def test_a_tiny_source_gets_one_rung_at_its_own_size():
    rungs = choose_ladder(source(320, 180))
    assert [(r.width, r.height) for r in rungs] == [(320, 180)]


def test_portrait_video_keeps_its_orientation():
    for rung in choose_ladder(source(1080, 1920)):
        assert rung.height > rung.width


def test_bitrates_rise_with_each_rung():
    rates = [r.bitrate_kbps for r in choose_ladder(source(1920, 1080))]
    assert rates == sorted(rates) and len(set(rates)) == len(rates)


def test_complex_content_gets_more_bits_at_the_same_resolutions():
    simple = choose_ladder(source(1280, 720), complexity=0.5)
    hard = choose_ladder(source(1280, 720), complexity=1.8)
    assert [r.name for r in simple] == [r.name for r in hard]
    for easy, busy in zip(simple, hard, strict=True):
        assert busy.bitrate_kbps > easy.bitrate_kbps


def test_high_frame_rates_cost_more_bits():
    at_25 = choose_ladder(source(1280, 720, fps=25))[-1].bitrate_kbps
    at_60 = choose_ladder(source(1280, 720, fps=60))[-1].bitrate_kbps
    assert at_60 > at_25


def test_complexity_grows_with_bits_per_pixel_within_bounds():
    assert complexity_of(0.01) < complexity_of(0.06) < complexity_of(0.2)
    assert complexity_of(0) == complexity_of(-1) > 0
    assert complexity_of(100.0) == complexity_of(1000.0)


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        (SourceInfo(640, 360, 0.0, 25, "h264", True), "lasts 0.00 s"),
        (SourceInfo(8, 8, 10.0, 25, "h264", True), "8x8"),
    ],
)
def test_unplayable_sources_are_refused_with_the_reason(info, reason):
    with pytest.raises(Unplayable, match=reason):
        info.check_playable()
