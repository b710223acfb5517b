"""gateway: the edge (Zuul) — every device request enters here."""

from matinee.platform.service import ServiceSpec

__all__ = ["SPEC"]

SPEC = ServiceSpec(
    name="gateway",
    default_instances=2,
    on_play_path=True,
    fixed_port=8080,
    description="edge gateway and API layer",
)
