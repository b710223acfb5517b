"""/api/home latency at 50 concurrent users: every source up, then a source dead or hung.

Claims (issue 3): p99 ≤ 50 ms with every source up; with a source dead, p99 ≤ that
source's timeout + 10 ms, and every answer still 200.

The benchmark boots a real seeded fleet (`matinee up --detach`) in a temporary data
dir with the edge's rate limits off (they would refuse a load generator), signs in
the seeded demo account, and loads `GET /api/home?profile=...` with wrk (-c50).
"Dead" stops every catalog instance (`matinee scale catalog 0`): calls fail at once.
"Hung" freezes the last catalog instance with SIGSTOP: calls wait for the timeout.

    .venv/bin/python benchmarks/home_latency.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import _load

MATINEE = str(Path(sys.executable).parent / "matinee")
SOURCE_TIMEOUT_MS = 250  # HomeTimeouts.source: the deadline of each home-page source


def cli(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [MATINEE, *args, "--data-dir", str(data_dir)], capture_output=True, text=True, check=True
    )
    return done.stdout


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def get_json(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def wrk_home(url: str, token: str, seconds: int) -> tuple[_load.WrkResult, str]:
    out = subprocess.run(
        [_load.require_wrk(), "-t1", "-c50", f"-d{seconds}s", "--latency",
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    non_2xx = next(
        (line.split(":")[1].strip() for line in out.splitlines() if "Non-2xx" in line), "0"
    )
    return _load.parse_wrk(out), non_2xx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    _load.require_wrk()
    with tempfile.TemporaryDirectory(prefix="matinee-home-bench-") as tmp:
        data_dir = Path(tmp)
        os.environ["MATINEE_GATEWAY_RATE_LIMIT_SCALE"] = "0"
        gateway_port, registry_port = _load.free_port(), _load.free_port()
        cli(data_dir, "up", "--detach", "--gateway-port", str(gateway_port),
            "--registry-port", str(registry_port))  # fmt: skip
        try:
            seeded = json.loads((data_dir / "seeded").read_text())
            demo = seeded["demo"]
            edge = f"http://127.0.0.1:{gateway_port}"
            token = post_json(
                f"{edge}/api/auth/login", {"email": demo["email"], "password": demo["password"]}
            )["access_token"]
            _, profiles = get_json(f"{edge}/api/profiles", token)
            profile = next(p["id"] for p in profiles if p["maturity"] == "adult")  # type: ignore[union-attr]
            url = f"{edge}/api/home?profile={profile}"
            status, page = get_json(url, token)
            print(f"home: {status}, {len(page['rows'])} rows, degraded={page['degraded']}")
            rows = []
            result, bad = wrk_home(url, token, args.seconds)
            rows.append(("every source up", result, bad, 50.0))

            cli(data_dir, "scale", "catalog", "1")
            status_rows = json.loads(cli(data_dir, "status", "--json"))
            last = next(r for r in status_rows if r["service"] == "catalog")
            os.kill(int(last["pid"]), signal.SIGSTOP)
            try:
                time.sleep(1)
                result, bad = wrk_home(url, token, args.seconds)
                rows.append(("catalog hung (SIGSTOP)", result, bad, SOURCE_TIMEOUT_MS + 10.0))
            finally:
                os.kill(int(last["pid"]), signal.SIGCONT)
            cli(data_dir, "scale", "catalog", "0")
            time.sleep(1)
            result, bad = wrk_home(url, token, args.seconds)
            rows.append(("catalog dead (scaled to 0)", result, bad, SOURCE_TIMEOUT_MS + 10.0))
        finally:
            cli(data_dir, "down")
    print(f"{'case':<28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}  target p99")
    for name, res, bad, target in rows:
        verdict = "PASS" if res.p99_ms <= target and bad == "0" else "FAIL"
        print(
            f"{name:<28}{res.requests_per_s:>9.0f}{res.p50_ms:>9.2f}{res.p99_ms:>9.2f}"
            f"{bad:>9}  <= {target:.0f} ms {verdict}"
        )


if __name__ == "__main__":
    main()
