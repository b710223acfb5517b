"""media: the encoding pipeline (ingest jobs, per-title ladders, the origin store)."""

from matinee.platform.service import ServiceSpec

__all__ = ["SPEC"]

SPEC = ServiceSpec(
    name="media",
    # Not on the play path: titles already encoded play from the origin and the CDN
    # while media is down; jobs wait in the durable queue until it is back.
    default_instances=1,
    on_play_path=False,
    description="ingest, encoding ladders, origin store",
)
