"""A real encode of a generated clip, read back as players read it (ffprobe when present)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from matinee.platform.storage import Database
from matinee.services.media.ffmpeg import Ffmpeg, box_types, find_ffmpeg
from matinee.services.media.ingest import Ingestor
from matinee.services.media.settings import MediaSettings
from matinee.services.media.storage import MIGRATIONS, OriginStore, SqlJobs
from matinee.services.media.worker import Worker
from tests.conftest import signed_headers
from tests.contract.conftest import serve
from tests.media_clips import make_clip

MPD_NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}
ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def attributes(line: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in ATTR.findall(line.split(":", 1)[1])}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    """Encode one 8 s 854x480 clip with the real worker; return the asset's directory."""
    root = tmp_path_factory.mktemp("media")
    source = make_clip(root / "pattern.mp4", seconds=8, size="854x480")

    async def run():
        db = Database("media", "sqlite:///:memory:")
        await db.start(MIGRATIONS)
        jobs = SqlJobs(db)
        encoder = Ffmpeg(find_ffmpeg())
        worker = Worker(jobs, OriginStore(root / "origin"), encoder, name="it")
        admission = await Ingestor(jobs, encoder, [root]).admit(str(source), title_id=9)
        done = await worker.run_once()
        await db.close()
        assert done is not None and done.status == "done", done and done.error
        return root / "origin" / admission.job.asset_id

    return asyncio.run(run())


def test_the_master_playlist_describes_every_rung_fully(encoded):
    master = (encoded / "master.m3u8").read_text()
    ladder = json.loads((encoded / "ladder.json").read_text())
    variants = [attributes(ln) for ln in master.splitlines() if ln.startswith("#EXT-X-STREAM-INF")]
    heights = [int(v["RESOLUTION"].split("x")[1]) for v in variants]
    assert heights == [240, 360, 480]
    for variant in variants:
        for key in ("BANDWIDTH", "AVERAGE-BANDWIDTH", "CODECS", "RESOLUTION", "FRAME-RATE"):
            assert variant.get(key), (key, variant)
        assert int(variant["AVERAGE-BANDWIDTH"]) <= int(variant["BANDWIDTH"])
        assert re.fullmatch(r"avc1\.[0-9a-f]{6},mp4a\.40\.2", variant["CODECS"])
        assert float(variant["FRAME-RATE"]) == 25.0
    media = [attributes(ln) for ln in master.splitlines() if ln.startswith("#EXT-X-MEDIA")]
    assert media and media[0]["TYPE"] == "AUDIO" and (encoded / media[0]["URI"]).is_file()
    assert [r["bandwidth"] for r in ladder["rungs"]] == [int(v["BANDWIDTH"]) for v in variants]


def test_rungs_share_segment_boundaries_of_about_four_seconds(encoded):
    ladder = json.loads((encoded / "ladder.json").read_text())
    durations = [r["segment_durations"] for r in ladder["rungs"]]
    assert all(d == durations[0] for d in durations)
    assert durations[0][0] == pytest.approx(4.0, abs=0.05) and sum(durations[0]) == pytest.approx(
        8, abs=0.1
    )
    for rung in ladder["rungs"]:
        sizes = [(encoded / uri).stat().st_size for uri in rung["segments"]]
        assert sizes == rung["segment_sizes"]


def test_the_mpd_references_the_same_segments_as_hls(encoded):
    tree = ET.parse(encoded / "manifest.mpd")
    ladder = json.loads((encoded / "ladder.json").read_text())
    reps = tree.getroot().findall(".//d:Representation", MPD_NS)
    by_id = {rep.get("id"): rep for rep in reps}
    assert set(by_id) == {"240p", "360p", "480p", "audio"}
    for rung in [*ladder["rungs"], ladder["audio"]]:
        template = by_id[rung["name"]].find("d:SegmentTemplate", MPD_NS)
        assert template is not None and template.get("initialization") == rung["init"]
        count = sum(1 + int(s.get("r", "0")) for s in template.findall(".//d:S", MPD_NS))
        uris = [template.get("media").replace("$Number$", str(n)) for n in range(1, count + 1)]
        assert uris == rung["segments"]
        playlist = (encoded / rung["playlist"]).read_text()
        assert [
            f"{rung['name']}/{ln}" for ln in playlist.splitlines() if ln.endswith(".m4s")
        ] == uris


def test_segments_are_fragmented_mp4(encoded):
    for rung in ("240p", "480p", "audio"):
        assert box_types((encoded / rung / "init.mp4").read_bytes())[:2] == ["ftyp", "moov"]
        boxes = box_types((encoded / rung / "seg_1.m4s").read_bytes())
        assert "moof" in boxes and "mdat" in boxes
    assert (encoded / "thumbnails" / "poster.jpg").read_bytes()[:2] == b"\xff\xd8"


async def test_ffprobe_reads_every_rendition_over_http(encoded, tmp_path):
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("ffprobe is not installed (Debian's ffmpeg package; CI installs it)")
    from matinee.services.media.app import create_app

    settings = MediaSettings(data_dir=tmp_path, origin_dir=encoded.parent, workers=0)
    async with serve(create_app(settings)) as port:
        header = "".join(f"{k}: {v}\r\n" for k, v in signed_headers().items())
        url = f"http://127.0.0.1:{port}/origin/{encoded.name}/master.m3u8"
        proc = await asyncio.create_subprocess_exec(
            ffprobe, "-v", "error", "-headers", header, "-show_programs", "-show_streams",
            "-of", "json", url, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    found = json.loads(out)
    assert len(found["programs"]) == 3  # one per variant
    heights = {s["height"] for s in found["streams"] if s["codec_type"] == "video"}
    assert heights == {240, 360, 480}
    assert any(s["codec_name"] == "aac" for s in found["streams"] if s["codec_type"] == "audio")
