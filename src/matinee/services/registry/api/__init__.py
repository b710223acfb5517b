"""The registry's HTTP surface: Eureka's REST API (JSON and XML)."""

from matinee.services.registry.api.routes import RegistryEvents, build_router

__all__ = ["RegistryEvents", "build_router"]
