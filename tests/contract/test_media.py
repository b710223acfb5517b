"""MediaClient against the real media app on SQLite, encoding with real ffmpeg."""

from __future__ import annotations

import asyncio
import http.client
import os

import httpx
import pytest

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.http import HttpPool, ServiceClient
from matinee.platform.identity import Identity
from matinee.services.media.app import create_app
from matinee.services.media.client import IngestRefused, MediaClient
from matinee.services.media.settings import MediaSettings
from tests.conftest import signed_headers
from tests.contract.conftest import serve
from tests.media_clips import make_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "good": make_clip(folder / "good.mp4", seconds=6),
        "no_video": make_clip(folder / "tone.m4a", video=False),
        "one_frame": make_clip(folder / "still.mp4", audio=False, frames=1),
        "corrupt": _corrupt(folder / "corrupt.mp4"),
        "folder": folder,
    }


def _corrupt(path):
    path.write_bytes(os.urandom(64 * 1024))
    return path


@pytest.fixture
def settings(tmp_path, clips):
    return MediaSettings(
        data_dir=tmp_path, ingest_roots=str(clips["folder"]), poll_interval=0.2,
        heartbeat_interval=0.5,
    )  # fmt: skip


def media_client(port: int, pool: HttpPool) -> tuple[MediaClient, ServiceClient]:
    resolver = StaticDiscovery([Instance("media", "media-1", "127.0.0.1", port)])
    http = ServiceClient("media", resolver=resolver, transport=pool)
    return MediaClient(http), http


async def wait_done(media: MediaClient, job_id: str):
    for _ in range(600):
        job = await media.job(job_id)
        assert job is not None
        if job.status in ("done", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError("the job did not finish")


async def test_ingest_encodes_a_ladder_served_from_the_origin(settings, clips):
    async with serve(create_app(settings)) as port, HttpPool() as pool:
        media, http = media_client(port, pool)
        queued = await media.ingest(str(clips["good"]), title_id=862)
        assert queued.status in ("queued", "running", "done") and len(queued.asset_id) == 16
        job = await wait_done(media, queued.job_id)
        assert job.status == "done", job.error
        assert job.progress == 1.0 and job.ladder_url == f"/assets/{job.asset_id}"

        ladder = await media.ladder(job.asset_id)
        assert ladder is not None and ladder["title_id"] == 862
        assert [r["name"] for r in ladder["rungs"]] == ["240p", "360p"]
        for rung in ladder["rungs"]:
            assert rung["codecs"].startswith("avc1.") and rung["codecs"].endswith(",mp4a.40.2")
            assert len(rung["segment_sizes"]) == 2 and all(s > 0 for s in rung["segment_sizes"])

        master = await media.origin_object(job.asset_id, "master.m3u8")
        assert master.status == 200
        assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        mpd = await media.origin_object(job.asset_id, "manifest.mpd")
        assert mpd.headers["content-type"].startswith("application/dash+xml")
        seg = await media.origin_object(
            job.asset_id, "360p/seg_1.m4s", headers={"range": "bytes=0-99"}
        )
        assert seg.status == 206 and len(seg.body) == 100
        assert seg.headers["content-type"] == "video/iso.segment"
        assert seg.headers["content-range"].startswith("bytes 0-99/")
        thumb = await media.origin_object(job.asset_id, "thumbnails/poster.jpg")
        assert thumb.status == 200 and thumb.headers["content-type"] == "image/jpeg"

        again = await media.ingest(str(clips["good"]), title_id=862)
        assert again.job_id == job.job_id and again.status == "done"  # a no-op
        status = await http.request(
            "POST", "/admin/ingest", json={"path": str(clips["good"]), "title_id": 862}
        )
        assert status.status == 200


@pytest.mark.parametrize(
    ("clip", "reason"),
    [("corrupt", "cannot read the file"), ("no_video", "no video stream"),
     ("one_frame", "lasts 0.04 s")],
)  # fmt: skip
async def test_unplayable_files_are_refused_and_leave_no_asset(settings, clips, clip, reason):
    async with serve(create_app(settings)) as port, HttpPool() as pool:
        media, _http = media_client(port, pool)
        with pytest.raises(IngestRefused) as info:
            await media.ingest(str(clips[clip]), title_id=1)
        assert info.value.status == 422 and reason in info.value.detail
    assert [p.name for p in settings.origin_path.iterdir()] == [".staging"]
    assert list((settings.origin_path / ".staging").iterdir()) == []


async def test_paths_outside_the_roots_or_missing_are_refused(settings, clips, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "film.mp4"
    outside.write_bytes(clips["good"].read_bytes())
    async with serve(create_app(settings)) as port, HttpPool() as pool:
        media, http = media_client(port, pool)
        with pytest.raises(IngestRefused) as info:
            await media.ingest(str(outside), title_id=1)
        assert info.value.status == 403
        for path in ("/etc/passwd", "relative.mp4", str(clips["folder"] / "missing.mp4")):
            with pytest.raises(IngestRefused) as info:
                await media.ingest(path, title_id=1)
            assert info.value.status in (400, 403), path
        bad = await http.request("POST", "/admin/ingest", json={"path": "", "title_id": 0})
        assert bad.status == 400


def raw_get(port: int, path: str) -> int:
    """Send ``path`` byte for byte (no client-side dot-segment normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in signed_headers().items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


async def test_traversal_never_reaches_a_file_outside_the_store(settings, clips):
    (settings.data_dir / "secret.txt").write_text("top secret")
    async with serve(create_app(settings)) as port, HttpPool() as pool:
        media, _http = media_client(port, pool)
        job = await wait_done(media, (await media.ingest(str(clips["good"]), 5)).job_id)
        asset = job.asset_id
        os.symlink(settings.data_dir / "secret.txt", settings.origin_path / asset / "leak.jpg")
        attempts = [
            f"/origin/{asset}/../../secret.txt",
            f"/origin/{asset}/..%2f..%2fsecret.txt",
            f"/origin/{asset}/%2e%2e/%2e%2e/secret.txt",
            f"/origin/{asset}/%252e%252e/secret.txt",
            f"/origin/{asset}//etc/passwd",
            f"/origin/{asset}/leak.jpg",
            f"/origin/{asset}/360p/..\\..\\secret.txt",
            "/origin/../secret.txt",
            "/origin/.staging/x",
            f"/origin/{asset}/360p",
            "/assets/../secret.txt",
        ]
        for path in attempts:
            status = await asyncio.to_thread(raw_get, port, path)
            assert status in (400, 404), path
        assert await asyncio.to_thread(raw_get, port, f"/origin/{asset}/master.m3u8") == 200


async def test_media_refuses_callers_without_identity_or_admin_role(settings, clips):
    async with serve(create_app(settings)) as port, httpx.AsyncClient() as client:
        base = f"http://127.0.0.1:{port}"
        body = {"path": str(clips["good"]), "title_id": 1}
        assert (await client.post(f"{base}/admin/ingest", json=body)).status_code == 401
        viewer = signed_headers(Identity.account("7", plan="basic"))
        refused = await client.post(f"{base}/admin/ingest", json=body, headers=viewer)
        assert refused.status_code == 403
        missing = await client.get(f"{base}/assets/0123456789abcdef", headers=viewer)
        assert missing.status_code == 404


def test_the_ingest_command_encodes_without_a_fleet_and_twice_is_a_no_op(tmp_path, clips, capsys):
    from matinee.cli import main

    argv = ["ingest", str(clips["good"]), "--title", "3", "--data-dir", str(tmp_path)]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "queued" in first and "is ready" in first and "360p" in first
    assert main(argv) == 0
    assert "no-op" in capsys.readouterr().out
    assets = [p for p in (tmp_path / "origin").iterdir() if not p.name.startswith(".")]
    assert len(assets) == 1 and (assets[0] / "master.m3u8").is_file()
    bad = ["ingest", str(clips["corrupt"]), "--title", "3", "--data-dir", str(tmp_path)]
    assert main(bad) == 2
    assert "cannot be ingested" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "ingest").iterdir()] == [f"{assets[0].name}-good.mp4"]
