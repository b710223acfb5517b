"""Start latency: from ``POST /api/playback/start`` to the first bytes of the first segment.

Claim (issue 4): p99 under 100 ms on loopback, through the gateway and a real CDN
node. Each sample is what a player does before the picture can start: start the
session (gateway -> playback: entitlement, lease, steering, signing), then on the
first node returned fetch the master playlist, the lowest variant's playlist, its
init segment, and the first media segment up to its first bytes; then the session
is stopped (outside the timing) so the plan's stream cap never bites. Cold samples
(a node's first fill from the origin) are reported apart from warm ones; the peer
in the same run is a bare ``GET /healthz`` round trip through the same gateway.

    .venv/bin/python benchmarks/playback_start.py [--samples 300] [--data-dir DIR]

Without ``--data-dir`` (a running, seeded fleet) it starts a fleet in a temporary
data dir (``matinee up --detach``, which seeds it) and brings it down after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import free_port
from fleet_startup import matinee

TARGET_P99_MS = 100.0


def pct(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one(http: aiohttp.ClientSession, gateway: str, bearer: dict, body: dict) -> float:
    """Run one start -> first segment bytes; return milliseconds."""
    t0 = time.perf_counter()
    async with http.post(f"{gateway}/api/playback/start", json=body, headers=bearer) as resp:
        started = await resp.json()
        if resp.status != 201:
            raise SystemExit(f"start refused ({resp.status}): {started}")
    base = started["manifests"][0]["url"].rsplit("/", 1)[0] + "/"
    async with http.get(base + "master.m3u8") as resp:
        master = await resp.text()
    variant = next(line for line in master.splitlines() if line and not line.startswith("#"))
    folder = variant.rsplit("/", 1)[0] + "/"
    async with http.get(base + variant) as resp:
        playlist = await resp.text()
    segment = next(line for line in playlist.splitlines() if line and not line.startswith("#"))
    async with http.get(base + folder + "init.mp4") as resp:
        await resp.read()
    async with http.get(base + folder + segment) as resp:
        await resp.content.readany()
        elapsed = (time.perf_counter() - t0) * 1000
        await resp.read()
    stop = f"{gateway}/api/playback/{started['session_id']}/stop"
    async with http.post(stop, json={"position_s": 0}, headers=bearer) as resp:
        await resp.read()
    return elapsed


async def measure(data_dir: Path, samples: int) -> dict[str, Any]:
    """Measure ``samples`` starts against the fleet of ``data_dir``."""
    state = json.loads((data_dir / "state.json").read_text())
    marker = json.loads((data_dir / "seeded").read_text())
    gateway = state["gateway_url"]
    demo = marker["demo"]
    title = int(next(iter(marker["clips"])))
    async with aiohttp.ClientSession() as http:
        login = {"email": demo["email"], "password": demo["password"]}
        async with http.post(f"{gateway}/api/auth/login", json=login) as resp:
            bearer = {"authorization": f"Bearer {(await resp.json())['access_token']}"}
        async with http.get(f"{gateway}/api/profiles", headers=bearer) as resp:
            profiles = await resp.json()
        body = {"title_id": title, "profile_id": profiles[0]["id"] if profiles else "p",
                "device": {"max_height": 1080, "codecs": ["avc1"]}}  # fmt: skip
        cold = [await one(http, gateway, bearer, body) for _ in range(3)]
        warm = []
        for _ in range(samples):
            warm.append(await one(http, gateway, bearer, body))
            # One viewer pressing play 20 times a second: under the edge's per-account limit.
            await asyncio.sleep(0.05)
        peer = []
        for _ in range(samples):
            t0 = time.perf_counter()
            async with http.get(f"{gateway}/healthz") as resp:
                await resp.read()
            peer.append((time.perf_counter() - t0) * 1000)
    return {
        "samples": samples,
        "cold_ms": [round(c, 1) for c in cold],
        "p50_ms": round(pct(warm, 0.5), 2),
        "p99_ms": round(pct(warm, 0.99), 2),
        "mean_ms": round(statistics.fmean(warm), 2),
        "max_ms": round(max(warm), 2),
        "peer_gateway_healthz_p50_ms": round(pct(peer, 0.5), 3),
        "target_p99_ms": TARGET_P99_MS,
        "met": pct(warm, 0.99) < TARGET_P99_MS,
    }


def main() -> None:
    """Run the benchmark and print its figures as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--data-dir", default="", help="a running, seeded fleet's data dir")
    args = parser.parse_args()
    if args.data_dir:
        print(json.dumps(asyncio.run(measure(Path(args.data_dir), args.samples)), indent=2))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "fleet"
        argv = [*matinee(), "up", "--detach", "--data-dir", str(data)]
        argv += ["--gateway-port", str(free_port()), "--registry-port", str(free_port())]
        up = subprocess.run(argv, capture_output=True, text=True, check=False)
        try:
            if up.returncode != 0:
                raise SystemExit(f"matinee up failed:\n{up.stdout}\n{up.stderr}")
            time.sleep(3)  # playback consumes media's asset_ready a moment after the seed
            print(json.dumps(asyncio.run(measure(data, args.samples)), indent=2))
        finally:
            subprocess.run([*matinee(), "down", "--data-dir", str(data)], capture_output=True,
                           check=False, timeout=120)  # fmt: skip


if __name__ == "__main__":
    main()
