"""What a fleet is made of: the services found in ``matinee.services``, their ports, NATS.

| usage | gives |
|---|---|
| ``discover_services()`` | every ``ServiceSpec``, the registry first |
| ``plan_fleet(paths, specs, gateway_port=8080, registry_port=8761)`` | a ``FleetPlan`` |
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from matinee.platform.service import ServiceSpec
from matinee.supervisor.layout import FleetPaths
from matinee.supervisor.ports import PortChoice, choose_port, free_port
from matinee.supervisor.procs import nats_command, service_command

__all__ = [
    "DEFAULT_GATEWAY_PORT",
    "DEFAULT_REGISTRY_PORT",
    "NATS",
    "REGISTRY",
    "FleetPlan",
    "ServicePlan",
    "discover_services",
    "plan_fleet",
]

DEFAULT_GATEWAY_PORT = 8080
DEFAULT_REGISTRY_PORT = 8761
REGISTRY = "registry"
GATEWAY = "gateway"
NATS = "nats"


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """How to run the instances of one service."""

    name: str
    argv: list[str]
    instances: int
    # MATINEE_PORT of every instance: 0 lets each take a free port; a fixed port is shared.
    port: int = 0
    # NATS does not register; it counts as up once its port accepts connections.
    registers: bool = True
    scalable: bool = True


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """Everything the supervisor decided before starting anything."""

    paths: FleetPaths
    registry_url: str
    gateway_url: str | None
    nats_url: str
    # Start order: NATS (when embedded), the registry, then the rest together.
    services: Sequence[ServicePlan]
    env: Mapping[str, str] = field(default_factory=dict)
    warnings: Sequence[str] = ()

    def service(self, name: str) -> ServicePlan | None:
        """Return the plan of ``name``, if the fleet has such a service."""
        return next((s for s in self.services if s.name == name), None)


def discover_services(package: str = "matinee.services") -> list[ServiceSpec]:
    """Return the SPEC of every subpackage of ``package`` that has one, the registry first."""
    root = importlib.import_module(package)
    specs: list[ServiceSpec] = []
    for info in pkgutil.iter_modules(root.__path__):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, ServiceSpec):
            specs.append(spec)
    return sorted(specs, key=lambda s: (s.name != REGISTRY, s.name))


def _instances(spec: ServiceSpec) -> int:
    if spec.name == REGISTRY:
        return 1
    # The play path must survive the loss of any one instance (DESIGN.md).
    return max(spec.default_instances, 2 if spec.on_play_path else 1)


def plan_fleet(
    paths: FleetPaths,
    specs: Sequence[ServiceSpec],
    *,
    gateway_port: int = DEFAULT_GATEWAY_PORT,
    registry_port: int = DEFAULT_REGISTRY_PORT,
    environ: Mapping[str, str] | None = None,
    choose: Callable[[int], PortChoice] = choose_port,
    pick_free: Callable[[], int] = free_port,
) -> FleetPlan:
    """Choose ports (moving aside from taken ones, with a warning) and the command of each part."""
    environ = dict(os.environ if environ is None else environ)
    warnings: list[str] = []
    wanted = {REGISTRY: registry_port, GATEWAY: gateway_port}
    chosen: dict[str, int] = {}
    for spec in specs:
        if spec.fixed_port is None and spec.name not in wanted:
            continue
        choice = choose(wanted.get(spec.name) or spec.fixed_port or 0)
        if choice.moved:
            warnings.append(
                f"port {choice.wanted} for {spec.name} is taken by another program; "
                f"{spec.name} listens on {choice.port} instead"
            )
        chosen[spec.name] = choice.port
    registry_port = chosen.get(REGISTRY, registry_port)
    registry_url = f"http://127.0.0.1:{registry_port}/eureka"
    gateway_url = f"http://127.0.0.1:{chosen[GATEWAY]}" if GATEWAY in chosen else None

    services: list[ServicePlan] = []
    nats_url = environ.get("MATINEE_NATS_URL", "")
    if not nats_url:
        nats_port = pick_free()
        nats_url = f"nats://127.0.0.1:{nats_port}"
        services.append(
            ServicePlan(
                name=NATS,
                argv=nats_command(nats_port, paths.nats_store),
                instances=1,
                port=nats_port,
                registers=False,
                scalable=False,
            )
        )
    for spec in specs:
        services.append(
            ServicePlan(
                name=spec.name,
                argv=service_command(spec.name),
                instances=_instances(spec),
                port=chosen.get(spec.name, 0),
                # The registry has no peers to replicate to: more than one would split it.
                scalable=spec.name != REGISTRY,
            )
        )
    env = {
        **environ,
        "MATINEE_DATA_DIR": str(paths.data_dir),
        "MATINEE_REGISTRY_URL": registry_url,
        "MATINEE_NATS_URL": nats_url,
        "PYTHONUNBUFFERED": "1",
    }
    return FleetPlan(
        paths=paths,
        registry_url=registry_url,
        gateway_url=gateway_url,
        nats_url=nats_url,
        services=services,
        env=env,
        warnings=warnings,
    )
