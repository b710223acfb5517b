"""Run every registered ABR algorithm over a folder of Sabre traces and tabulate the means."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from abr.sim import Summary, data_dir, load_movie, simulate, summarise
from matinee.services.playback.domain.abr import ALGORITHMS, create

# Sabre's published figures on the same inputs (the data README), for the same run's table.
PUBLISHED = {
    "bola": (1107.9, 0.0843, 269.7),
    "bola-e": (1111.3, 0.0871, 209.0),
    "throughput": (812.4, 0.0779, 54.8),
}


def _session(job: tuple[str, Path, Path]):  # type: ignore[no-untyped-def]
    name, movie_path, trace_path = job
    from abr.sim import load_trace

    return simulate(create(name), load_movie(movie_path), load_trace(trace_path))


def run(
    names: list[str] | None = None, *, folder: Path | None = None, jobs: int = 2
) -> list[Summary]:
    """Simulate ``names`` (default: all) over every trace; return one summary each."""
    folder = folder or data_dir()
    movie = folder / "movie-bbb.json"
    traces = sorted((folder / "norway-3g").glob("*.json"))
    if not traces or not movie.exists():
        raise FileNotFoundError(f"no Sabre movie and traces under {folder}")
    summaries = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for name in names or list(ALGORITHMS):
            results = list(pool.map(_session, [(name, movie, t) for t in traces], chunksize=4))
            summaries.append(summarise(name, results))
    return summaries


def table(summaries: list[Summary]) -> str:
    """Return a Markdown table of ``summaries`` with the published Sabre figures alongside."""
    lines = [
        "| algorithm | bitrate kbps | rebuffer ratio | bitrate change kbps/s | linear QoE "
        "| decision ms (mean / p99) | Sabre published |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        ref = PUBLISHED.get(s.algorithm)
        published = f"{ref[0]} / {ref[1]} / {ref[2]}" if ref else ""
        lines.append(
            f"| {s.algorithm} | {s.bitrate_kbps:.1f} | {s.rebuffer_ratio:.4f} "
            f"| {s.change_kbps:.1f} | {s.qoe:.3f} "
            f"| {s.decision_ms_mean:.3f} / {s.decision_ms_p99:.3f} | {published} |"
        )
    return "\n".join(lines)


def verdict(summaries: list[Summary]) -> tuple[bool, str]:
    """Return whether Matinee meets issue 4's target, with the figures that decide it."""
    by = {s.algorithm: s for s in summaries}
    m, e, r = by["matinee"], by["bola-e"], by["robustmpc"]
    ok = m.qoe >= e.qoe and m.qoe >= r.qoe and m.rebuffer_ratio <= e.rebuffer_ratio
    text = (
        f"matinee QoE {m.qoe:.3f} vs BOLA-E {e.qoe:.3f} ({m.qoe / e.qoe:.2f}x) and "
        f"RobustMPC {r.qoe:.3f} ({m.qoe / r.qoe:.2f}x); rebuffer ratio {m.rebuffer_ratio:.4f} "
        f"vs BOLA-E {e.rebuffer_ratio:.4f}: {'MET' if ok else 'NOT MET'}"
    )
    return ok, text
