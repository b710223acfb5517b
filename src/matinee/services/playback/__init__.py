"""playback: sessions, stream leases, steering and adaptive bitrate (issue 4)."""

from matinee.platform.service import ServiceSpec

__all__ = ["SPEC"]

SPEC = ServiceSpec(
    name="playback",
    # On the play path: two instances share the lease table, so losing one is invisible.
    default_instances=2,
    on_play_path=True,
    description="playback sessions, stream leases, CDN steering, QoE priors",
)
