"""users: accounts, profiles, plans, access and refresh tokens, signing keys (identity)."""

from matinee.platform.service import ServiceSpec

__all__ = ["SPEC"]

SPEC = ServiceSpec(
    name="users",
    # On the play path only through its keys (the edge verifies tokens locally), but
    # sign-in and refresh must survive losing an instance: two of them.
    default_instances=2,
    on_play_path=True,
    description="accounts, profiles, plans, tokens, signing keys",
)
