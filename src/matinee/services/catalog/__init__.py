"""catalog: titles, genres and curated lists (content discovery)."""

from matinee.platform.service import ServiceSpec

__all__ = ["SPEC"]

SPEC = ServiceSpec(
    name="catalog",
    # Not on the play path, but browsing needs it: two instances so losing one is invisible.
    default_instances=2,
    on_play_path=False,
    description="titles, genres, curated lists",
)
