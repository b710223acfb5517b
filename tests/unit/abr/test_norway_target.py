"""Issue 4's ABR target on the Norway 3G set (skips when the Sabre data is absent)."""

from __future__ import annotations

import pytest

from abr.sim import data_dir

DATA = data_dir()
pytestmark = pytest.mark.skipif(
    not (DATA / "movie-bbb.json").exists(),
    reason=f"no Sabre ABR data at {DATA} (set MATINEE_ABR_DATA to ../shared/data/abr)",
)


def test_matinee_beats_bola_e_and_robustmpc_without_more_stalls() -> None:
    from abr.run import run, verdict

    summaries = run(["bola-e", "robustmpc", "matinee"], folder=DATA)
    by = {s.algorithm: s for s in summaries}
    # The simulator reproduces Sabre's published BOLA-E figures (data README).
    assert by["bola-e"].bitrate_kbps == pytest.approx(1111.3, rel=0.01)
    assert by["bola-e"].rebuffer_ratio == pytest.approx(0.0871, rel=0.02)
    ok, text = verdict(summaries)
    assert ok, text
