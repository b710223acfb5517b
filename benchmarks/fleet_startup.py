"""Fleet startup: ``matinee up --detach`` until every instance is registered UP.

Claim (issue 2): under 15 s on 2 cores. The peer, in the same run, is the floor
any process-per-instance fleet pays: one instance's interpreter start and
imports (``python -c "import <service app>"``), times the number of instances,
divided by the cores that can work in parallel.

    .venv/bin/python benchmarks/fleet_startup.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _load

TARGET_S = 15.0


def matinee() -> list[str]:
    """Return the argv of the real ``matinee`` CLI."""
    script = Path(sys.executable).parent / "matinee"
    return [str(script)] if script.exists() else [sys.executable, "-m", "matinee.cli"]


def one_round(root: Path, index: int, seed: str) -> tuple[float, float, int]:
    """Start and stop one fleet; return (up seconds, down seconds, instances)."""
    data = root / f"round-{index}"
    argv = [*matinee(), "up", "--detach", "--data-dir", str(data)]
    argv += ["--gateway-port", str(_load.free_port()), "--registry-port", str(_load.free_port())]
    start = time.perf_counter()
    # A fresh data dir is seeded after the fleet is UP and `up --detach` waits for that
    # too; the claim is about the fleet, so the seed is off unless asked for.
    env = {**os.environ, "MATINEE_SEED": seed}
    up = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    up_s = time.perf_counter() - start
    try:
        if up.returncode != 0:
            raise SystemExit(f"matinee up failed:\n{up.stdout}\n{up.stderr}")
        state = json.loads((data / "state.json").read_text())
        count = len(state["instances"])
    finally:
        start = time.perf_counter()
        subprocess.run([*matinee(), "down", "--data-dir", str(data)], capture_output=True)
        down_s = time.perf_counter() - start
    return up_s, down_s, count


def import_floor(instances: int) -> float:
    """Return the per-core floor: one instance's start-up imports times instances / cores."""
    from matinee.supervisor import discover_services

    samples = []
    for spec in discover_services():
        code = f"import matinee.runner, matinee.services.{spec.name}.app"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append(time.perf_counter() - start)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return statistics.mean(samples) * instances / max(1, cores or 1)


def main() -> None:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--seed", default="off", help="MATINEE_SEED for the fleet: off (default) or small"
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="matinee-bench-") as tmp:
        for index in range(args.rounds):
            results.append(one_round(Path(tmp), index, args.seed))
    count = results[0][2]
    floor = import_floor(count)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"fleet of {count} instances (NATS included), {cores} cores, seed={args.seed}")
    print(f"{'round':<8}{'up s':>8}{'down s':>9}")
    for index, (up_s, down_s, _) in enumerate(results, 1):
        print(f"{index:<8}{up_s:>8.2f}{down_s:>9.2f}")
    median = statistics.median(r[0] for r in results)
    print(f"{'median':<8}{median:>8.2f}{statistics.median(r[1] for r in results):>9.2f}")
    print(f"peer: import floor (one instance's imports x {count} / {cores} cores): {floor:.2f} s")
    verdict = "PASS" if median < TARGET_S else "FAIL"
    print(f"up --detach to all UP: median {median:.2f} s (target < {TARGET_S:.0f} s) {verdict}")


if __name__ == "__main__":
    main()
