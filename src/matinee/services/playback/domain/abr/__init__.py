"""Adaptive bitrate: pure algorithms behind one interface, for players and simulators."""

from __future__ import annotations

from collections.abc import Callable

from matinee.services.playback.domain.abr.base import (
    AbrAlgorithm,
    AbrBase,
    AbrInputs,
    DownloadProgress,
    DownloadResult,
    Ewma,
    PacedAbr,
    ThroughputSample,
    harmonic_mean_kbps,
    rung_for_rate,
)
from matinee.services.playback.domain.abr.matinee import MatineeAbr
from matinee.services.playback.domain.abr.mpc import QoeWeights, RobustMpc, plan_first_rung
from matinee.services.playback.domain.abr.rules import Bba, Bola, BolaE, ThroughputRule

ALGORITHMS: dict[str, Callable[[], AbrAlgorithm]] = {
    "throughput": ThroughputRule,
    "bba": Bba,
    "bola": Bola,
    "bola-e": BolaE,
    "robustmpc": RobustMpc,
    "matinee": MatineeAbr,
}


def create(name: str) -> AbrAlgorithm:
    """Return a fresh instance of the algorithm registered as ``name``."""
    try:
        return ALGORITHMS[name]()
    except KeyError:
        known = ", ".join(ALGORITHMS)
        raise ValueError(f"unknown ABR algorithm {name!r} (known: {known})") from None


__all__ = [
    "ALGORITHMS",
    "AbrAlgorithm",
    "AbrBase",
    "AbrInputs",
    "Bba",
    "Bola",
    "BolaE",
    "DownloadProgress",
    "DownloadResult",
    "Ewma",
    "MatineeAbr",
    "PacedAbr",
    "QoeWeights",
    "RobustMpc",
    "ThroughputRule",
    "ThroughputSample",
    "create",
    "harmonic_mean_kbps",
    "plan_first_rung",
    "rung_for_rate",
]
