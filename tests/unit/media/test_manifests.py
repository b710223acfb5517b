"""Manifests and probing: what players and the CDN read, built from what was written."""

from __future__ import annotations

import pytest

from matinee.services.media.domain import (
    Rendition,
    Segment,
    Unplayable,
    build_ladder,
    dash_mpd,
    hls_master,
    parse_media_playlist,
)
from matinee.services.media.ffmpeg import avc_codec_string, box_types, parse_probe


def rendition(name: str, sizes: list[int], **kw) -> Rendition:
    durations = [4.0] * (len(sizes) - 1) + [1.0]
    segs = tuple(
        Segment(f"{name}/seg_{i}.m4s", d, s)
        for i, (d, s) in enumerate(zip(durations, sizes, strict=True), start=1)
    )
    return Rendition(name=name, init=f"{name}/init.mp4", playlist=f"{name}/index.m3u8",
                     segments=segs, **kw)  # fmt: skip


VIDEO = [
    rendition("240p", [200_000, 100_000, 50_000], kind="video", codec="avc1.4d4015",
              width=426, height=240, frame_rate=25.0),
    rendition("360p", [400_000, 200_000, 100_000], kind="video", codec="avc1.4d401e",
              width=640, height=360, frame_rate=25.0),
]  # fmt: skip
AUDIO = rendition("audio", [64_000, 64_000, 16_000], kind="audio", codec="mp4a.40.2", channels=2)


def test_master_announces_peak_and_average_bandwidth_with_audio_included():
    text = hls_master(VIDEO, AUDIO)
    assert '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud"' in text and 'URI="audio/index.m3u8"' in text
    line = next(ln for ln in text.splitlines() if "RESOLUTION=640x360" in ln)
    # peak: 400 kB in 4 s (video) + 128 kbit/s (audio); average: 700 kB and 144 kB in 9 s
    assert "BANDWIDTH=928000," in line and "AVERAGE-BANDWIDTH=750223," in line
    assert 'CODECS="avc1.4d401e,mp4a.40.2"' in line and "FRAME-RATE=25.000" in line
    assert text.splitlines()[-1] == "360p/index.m3u8"


def test_the_mpd_lists_the_same_segments_by_template():
    mpd = dash_mpd(VIDEO, AUDIO, 9.0)
    assert 'media="360p/seg_$Number$.m4s"' in mpd and 'initialization="360p/init.mp4"' in mpd
    assert '<S t="0" d="4000" r="1"/>' in mpd and '<S d="1000"/>' in mpd
    assert 'mediaPresentationDuration="PT9.000S"' in mpd and "audio/seg_$Number$.m4s" in mpd


def test_the_ladder_carries_per_segment_sizes_for_abr():
    ladder = build_ladder(VIDEO, AUDIO, asset_id="a" * 16, title_id=3, duration_s=9.0,
                          segment_seconds=4.0)  # fmt: skip
    top = ladder["rungs"][1]
    assert top["segment_sizes"] == [400_000, 200_000, 100_000]
    assert top["segment_durations"] == [4.0, 4.0, 1.0]
    assert top["bitrate_kbps"] == 928.0 and top["codecs"] == "avc1.4d401e,mp4a.40.2"
    assert ladder["audio"]["segment_sizes"] == [64_000, 64_000, 16_000]


def test_media_playlists_parse_into_uris_and_durations():
    text = (
        '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n'
        "#EXTINF:4.010667,\nseg_1.m4s\n#EXTINF:1.5,\nseg_2.m4s\n"
    )
    assert parse_media_playlist(text, "audio") == [("audio/seg_1.m4s", 4.010667),
                                                   ("audio/seg_2.m4s", 1.5)]  # fmt: skip


PROBE = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'bbb.mp4':
  Duration: 00:00:05.31, start: 0.000000, bitrate: 1589 kb/s
  Stream #0:0[0x1](und): Video: h264 (Main) (avc1 / 0x31637661), yuv420p(progressive), 1280x720 [SAR 1:1 DAR 16:9], 1205 kb/s, 25 fps, 25 tbr, 12800 tbn (default)
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, 5.1, fltp, 384 kb/s (default)
At least one output file must be specified
"""  # noqa: E501


def test_probe_output_is_parsed():
    info = parse_probe(PROBE)
    assert (info.width, info.height, info.duration_s, info.frame_rate) == (1280, 720, 5.31, 25.0)
    assert info.has_audio and info.audio_channels == 6 and info.video_codec == "h264"


def test_probe_refuses_audio_only_and_unreadable_files():
    audio_only = "\n".join(ln for ln in PROBE.splitlines() if "Video:" not in ln)
    with pytest.raises(Unplayable, match="no video stream"):
        parse_probe(audio_only)
    with pytest.raises(Unplayable, match="Invalid data"):
        parse_probe("x.mp4: Invalid data found when processing input\n")


def test_codec_strings_and_boxes_come_from_the_bytes():
    init = b"\x00\x00\x00\x10ftypisom" + b"....avcC\x01\x64\x00\x1f"
    assert avc_codec_string(init) == "avc1.64001f"
    assert box_types(b"\x00\x00\x00\x08moof\x00\x00\x00\x09mdatx") == ["moof", "mdat"]
