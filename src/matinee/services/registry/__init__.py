"""registry: instance leases with Eureka's semantics and REST API (port 8761).

Run as a cluster of peers (``matinee up`` starts two, on 8761 and 8762; see
``supervisor.plan_fleet(registries=)``): each replicates what clients tell it to
the others (``replication.py``).
"""

from matinee.platform.service import ServiceSpec

__all__ = ["SPEC"]

SPEC = ServiceSpec(
    name="registry",
    default_instances=1,
    on_play_path=True,
    fixed_port=8761,
    description="Eureka-compatible service registry: leases, heartbeats, eviction, peers",
)
