"""A title plays on the real fleet: seeded clip, signed URLs, ffprobe, the player, a node killed.

Seeded fleet -> log in as the demo account -> start -> ffprobe reads the master
playlist from the returned URL and sees every rendition -> ``matinee play`` downloads
segments and prints QoE -> one CDN node is killed with SIGKILL mid-stream and the
player carries on from the next URL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from matinee.seed import read_marker
from tests.e2e.conftest import Fleet, matinee_command

pytestmark = pytest.mark.e2e

if shutil.which("ffprobe") is None:
    pytest.skip(
        "ffprobe is not installed (Debian ffmpeg; .ci/run installs it)", allow_module_level=True
    )
try:
    from matinee.services.cdn import SPEC as _CDN  # noqa: F401
except ImportError:
    pytest.skip("services/cdn has no SPEC yet: nothing serves segments", allow_module_level=True)


def _demo(fleet: Fleet) -> tuple[dict, int]:
    marker = read_marker(fleet.data_dir) or {}
    clips = marker.get("clips") or {}
    assert clips, f"the seed mapped no clip: {marker.get('lines')}"
    # Big Buck Bunny (a real film clip, 720p: several rungs) if it is there.
    title = next((t for t, c in clips.items() if c["clip"] == "bigbuckbunny"), next(iter(clips)))
    return marker["demo"], int(title)


def _bearer(http: httpx.Client, fleet: Fleet, demo: dict) -> dict[str, str]:
    login = http.post(f"{fleet.gateway_url}/api/auth/login",
                      json={"email": demo["email"], "password": demo["password"]})  # fmt: skip
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['access_token']}"}


def _start(http: httpx.Client, fleet: Fleet, bearer: dict, title: int) -> dict:
    profiles = http.get(f"{fleet.gateway_url}/api/profiles", headers=bearer).json()
    profile = profiles[0]["id"] if isinstance(profiles, list) and profiles else "default"
    body = {"title_id": title, "profile_id": profile,
            "device": {"max_height": 2160, "codecs": ["avc1", "mp4a"]}}  # fmt: skip
    deadline = time.monotonic() + 60
    while True:  # playback learns the asset from media's event, a moment after the encode
        started = http.post(f"{fleet.gateway_url}/api/playback/start", json=body, headers=bearer)
        if started.status_code == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert started.status_code == 201, started.text
    return started.json()


def test_ffprobe_sees_every_rendition_from_the_returned_url(fleet: Fleet):
    demo, title = _demo(fleet)
    with httpx.Client(timeout=10) as http:
        bearer = _bearer(http, fleet, demo)
        started = _start(http, fleet, bearer, title)
        assert len(started["manifests"]) >= 2, started["manifests"]
        url = started["manifests"][0]["url"]
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,width,height:program",
             "-of", "json", url],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert probe.returncode == 0, probe.stderr
        streams = json.loads(probe.stdout)
        heights = {s.get("height") for p in streams.get("programs", []) for s in p["streams"]
                   if s.get("codec_type") == "video"}  # fmt: skip
        assert heights >= {r["height"] for r in started["ladder"]}
        tampered = url.replace("/s/", "/s/x", 1)
        assert http.get(tampered).status_code == 403
        http.post(f"{fleet.gateway_url}/api/playback/{started['session_id']}/stop",
                  json={"position_s": 0}, headers=bearer)  # fmt: skip


def test_the_player_plays_and_survives_a_cdn_node_killed_mid_stream(fleet: Fleet, tmp_path: Path):
    _, title = _demo(fleet)
    trace = tmp_path / "trace.json"
    # A steady 3 Mbit/s link: downloads take real time, so the kill lands mid-stream.
    trace.write_text(json.dumps([{"duration_ms": 1000, "bandwidth_kbps": 3000, "latency_ms": 20}]))
    argv = [*matinee_command(), "play", str(title), "--abr", "matinee", "--trace", str(trace)]
    argv += ["--seconds", "60", "--speed", "4", "--json", "--data-dir", str(fleet.data_dir)]
    player = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    killed = ""
    try:
        assert player.stdout is not None
        for line in player.stdout:
            lines.append(line.rstrip())
            found = re.search(r"segment (\d+)/\d+ .* from (\S+)", line)
            if found and int(found.group(1)) >= 3 and not killed:
                killed = found.group(2)
                victim = next(r for r in fleet.status() if r["instance_id"] == killed)
                os.kill(int(victim["pid"]), signal.SIGKILL)
        code = player.wait(timeout=180)
    finally:
        if player.poll() is None:
            player.kill()
            player.wait()
    output = "\n".join(lines)
    assert code == 0, f"{output}\n{player.stderr.read() if player.stderr else ''}"
    assert killed, output
    assert f"node {killed} failed" in output
    qoe = json.loads(lines[-1])
    assert qoe["failovers"] >= 1 and qoe["nodes"][0] == killed
    assert qoe["played_s"] >= 60 and qoe["mean_bitrate_kbps"] > 0
    assert "rebuffer ratio" in output and "startup delay" in output
