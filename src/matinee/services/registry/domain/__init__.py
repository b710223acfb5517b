"""The registry's pure logic: leases, overrides, eviction, self-preservation, deltas."""

from matinee.services.registry.domain.model import (
    DEFAULT_DATA_CENTER_CLASS,
    Action,
    InstanceRecord,
    Lease,
)
from matinee.services.registry.domain.registry import (
    Change,
    PreservationPolicy,
    PreservationState,
    Registry,
)

__all__ = [
    "DEFAULT_DATA_CENTER_CLASS",
    "Action",
    "Change",
    "InstanceRecord",
    "Lease",
    "PreservationPolicy",
    "PreservationState",
    "Registry",
]
