"""search: an index of titles derived from catalog events, with instant type-ahead."""

from matinee.platform.service import ServiceSpec

__all__ = ["SPEC"]

SPEC = ServiceSpec(
    name="search",
    # Not on the play path; two instances, each holding the whole index, so losing one
    # is invisible and a restart rebuilds while the other answers.
    default_instances=2,
    on_play_path=False,
    description="title search and type-ahead suggestions",
)
