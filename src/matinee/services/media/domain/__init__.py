"""Media domain: pure rules of ladders, jobs, manifests and object paths."""

from matinee.services.media.domain.jobs import (
    IllegalTransition,
    Job,
    JobStatus,
    backoff,
    claim,
    fail,
    is_stale,
    progress,
    requeue,
    succeed,
)
from matinee.services.media.domain.ladder import BASE_RUNGS, choose_ladder, complexity_of
from matinee.services.media.domain.manifests import (
    Rendition,
    Segment,
    build_ladder,
    dash_mpd,
    hls_master,
    parse_media_playlist,
)
from matinee.services.media.domain.model import (
    ASSET_ID,
    MediaError,
    Rung,
    SourceChanged,
    SourceInfo,
    TransientFailure,
    Unplayable,
    asset_id_of,
)
from matinee.services.media.domain.paths import UnsafePath, safe_parts

__all__ = [
    "ASSET_ID",
    "BASE_RUNGS",
    "IllegalTransition",
    "Job",
    "JobStatus",
    "MediaError",
    "Rendition",
    "Rung",
    "Segment",
    "SourceChanged",
    "SourceInfo",
    "TransientFailure",
    "Unplayable",
    "UnsafePath",
    "asset_id_of",
    "backoff",
    "build_ladder",
    "choose_ladder",
    "claim",
    "complexity_of",
    "dash_mpd",
    "fail",
    "hls_master",
    "is_stale",
    "parse_media_playlist",
    "progress",
    "requeue",
    "safe_parts",
    "succeed",
]
