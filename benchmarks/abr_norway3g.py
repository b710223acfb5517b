"""Claim: Matinee's ABR beats BOLA-E and RobustMPC on linear QoE over the Norway 3G set,
with a rebuffer ratio at or below BOLA-E's (issue 4).

Peers, same run: BOLA, BOLA-E and the throughput rule (Sabre's defaults), BBA-0 and
RobustMPC, all from ``matinee.services.playback.domain.abr``, driven by the
Sabre-compatible simulator in ``benchmarks/abr`` over 86 traces and Big Buck Bunny.

    .venv/bin/python benchmarks/abr_norway3g.py [--jobs N] [--algorithms a b ...]

Data: $MATINEE_ABR_DATA, else ../shared/data/abr next to the repository.
"""

from __future__ import annotations

import argparse
import sys
import time

from abr.run import run, table, verdict
from abr.sim import data_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--algorithms", nargs="+", default=None)
    args = parser.parse_args()
    folder = data_dir()
    if not (folder / "movie-bbb.json").exists():
        print(f"skipped: no ABR data at {folder} (set MATINEE_ABR_DATA)")
        return 0
    started = time.perf_counter()
    summaries = run(args.algorithms, folder=folder, jobs=args.jobs)
    print(
        f"Norway 3G: {summaries[0].sessions} traces, Big Buck Bunny, 25 s buffer, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(table(summaries))
    if {"matinee", "bola-e", "robustmpc"} <= {s.algorithm for s in summaries}:
        print(verdict(summaries)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
