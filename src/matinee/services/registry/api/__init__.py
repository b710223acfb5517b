"""The registry's HTTP surface: Eureka's REST API (JSON and XML)."""

from matinee.services.registry.api.routes import (
    NoReplication,
    RegistryEvents,
    Replication,
    build_router,
)

__all__ = ["NoReplication", "RegistryEvents", "Replication", "build_router"]
