"""Measure one engine at one catalog scale in a fresh process; print one JSON line.

.venv/bin/python -m benchmarks.search.run_engine matinee 1 [QUERY_SEED]

QUERY_SEED draws another query set of the same kinds (the default one is seed 7): the
ranking's constants were chosen on seed 7, so another seed is the held-out check.
"""

from __future__ import annotations

import gc
import json
import sys
import time

import psutil
from benchmarks.search import data, engines


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    name, scale = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    docs = data.catalog(scale)
    qs = data.queries(docs, seed=seed)
    ceiling = data.prefix_ceiling(docs, qs)
    by_id = {d.id: d.title for d in docs}
    gc.collect()
    proc = psutil.Process()
    rss_before = proc.memory_info().rss
    start = time.perf_counter()
    top = engines.build(name, docs)
    build_s = time.perf_counter() - start
    gc.collect()
    # What the service does after each build: the index is long-lived, keep GC off it.
    gc.freeze()
    rss_mb = (proc.memory_info().rss - rss_before) / 1e6
    for q in qs:  # warm up caches the way a running instance has them warm
        top(q.text)
    latencies: list[float] = []
    per_kind: dict[str, list[float]] = {k: [] for k in data.KINDS}
    recall: dict[str, list[int]] = {k: [] for k in data.KINDS}
    for q in qs:
        t0 = time.perf_counter_ns()
        found = top(q.text)
        latencies.append((time.perf_counter_ns() - t0) / 1e6)
        rank = next((i + 1 for i, d in enumerate(found) if by_id[d] == q.title), None)
        recall[q.kind].append(1 if rank else 0)
        per_kind[q.kind].append(1 / rank if rank else 0.0)
    result = {
        "engine": name,
        "scale": scale,
        "titles": len(docs),
        "build_s": round(build_s, 2),
        "rss_mb": round(rss_mb, 1),
        "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "recall": {k: round(sum(v) / len(v), 3) for k, v in recall.items()},
        "mrr": {k: round(sum(v) / len(v), 3) for k, v in per_kind.items()},
        "recall_all": round(sum(map(sum, recall.values())) / len(qs), 3),
        "prefix_ceiling": round(ceiling, 3),
        "query_seed": seed,
        "mrr_all": round(sum(map(sum, per_kind.values())) / len(qs), 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
