"""cdn: an Open Connect-style appliance that serves playlists and segments from its cache."""

from matinee.platform.service import ServiceSpec

__all__ = ["SPEC"]

SPEC = ServiceSpec(
    name="cdn",
    # On the play path: players fetch every segment from a node, and fail over to the
    # next node of their list when one dies, so the fleet runs two at least.
    default_instances=2,
    on_play_path=True,
    description="edge cache nodes: signed segment delivery, fill from the origin",
)
