"""What a fleet is made of: the services found in ``matinee.services``, their ports, NATS.

| usage | gives |
|---|---|
| ``discover_services()`` | every ``ServiceSpec``, the registry first |
| ``plan_fleet(paths, specs, gateway_port=8080, registry_port=8761)`` | a ``FleetPlan`` |
| ``plan_fleet(..., registries=2)`` | registry peers on 8761 and 8762, each naming the other |
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from matinee.platform.discovery import split_registry_urls
from matinee.platform.service import ServiceSpec
from matinee.supervisor.layout import FleetPaths
from matinee.supervisor.ports import PortChoice, choose_port, free_port
from matinee.supervisor.procs import nats_command, service_command

__all__ = [
    "DEFAULT_GATEWAY_PORT",
    "DEFAULT_REGISTRIES",
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
# Registry peers: the first on DEFAULT_REGISTRY_PORT, the next on the ports after it.
DEFAULT_REGISTRIES = 2
MAX_REGISTRIES = 5
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
    # Per instance slot (index 1, 2, ...): a port and settings of its own. Registry peers
    # each listen on a well-known port and name the others; empty: every slot is alike.
    slot_ports: tuple[int, ...] = ()
    slot_env: tuple[Mapping[str, str], ...] = ()

    def port_of(self, index: int) -> int:
        """Return ``MATINEE_PORT`` of instance slot ``index`` (1-based)."""
        if 0 < index <= len(self.slot_ports):
            return self.slot_ports[index - 1]
        return self.port

    def env_of(self, index: int) -> Mapping[str, str]:
        """Return the settings only instance slot ``index`` (1-based) gets."""
        if 0 < index <= len(self.slot_env):
            return self.slot_env[index - 1]
        return {}


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

    @property
    def registry_urls(self) -> tuple[str, ...]:
        """Return every registry's Eureka URL (``registry_url`` holds them comma-separated)."""
        return split_registry_urls(self.registry_url)


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
    # The play path must survive the loss of any one instance (DESIGN.md).
    return max(spec.default_instances, 2 if spec.on_play_path else 1)


def plan_fleet(
    paths: FleetPaths,
    specs: Sequence[ServiceSpec],
    *,
    gateway_port: int = DEFAULT_GATEWAY_PORT,
    registry_port: int = DEFAULT_REGISTRY_PORT,
    registries: int = DEFAULT_REGISTRIES,
    environ: Mapping[str, str] | None = None,
    choose: Callable[[int], PortChoice] = choose_port,
    pick_free: Callable[[], int] = free_port,
) -> FleetPlan:
    """Choose ports (moving aside from taken ones, with a warning) and the command of each part.

    The registry runs as ``registries`` peers on ``registry_port`` and the ports after
    it; every instance of the fleet is given all of their URLs.
    """
    if not 1 <= registries <= MAX_REGISTRIES:
        raise ValueError(f"a fleet runs between 1 and {MAX_REGISTRIES} registries")
    environ = dict(os.environ if environ is None else environ)
    warnings: list[str] = []
    wanted = {REGISTRY: registry_port, GATEWAY: gateway_port}
    chosen: dict[str, int] = {}
    registry_ports: list[int] = []
    for spec in specs:
        if spec.name == REGISTRY:
            registry_ports = _registry_ports(registry_port, registries, choose, warnings)
            chosen[REGISTRY] = registry_ports[0]
            continue
        if spec.fixed_port is None and spec.name not in wanted:
            continue
        choice = choose(wanted.get(spec.name) or spec.fixed_port or 0)
        if choice.moved:
            warnings.append(
                f"port {choice.wanted} for {spec.name} is taken by another program; "
                f"{spec.name} listens on {choice.port} instead"
            )
        chosen[spec.name] = choice.port
    registry_urls = [f"http://127.0.0.1:{port}/eureka" for port in registry_ports] or [
        f"http://127.0.0.1:{registry_port}/eureka"
    ]
    registry_url = ",".join(registry_urls)
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
        if spec.name == REGISTRY:
            # A fixed set of peers, each on its own port and naming the others: scaling
            # would need every peer to learn of the new one, so it is not offered.
            peers = tuple(
                {"MATINEE_REGISTRY_PEERS": ",".join(u for u in registry_urls if u != own)}
                for own in registry_urls
            )
            services.append(
                ServicePlan(
                    name=spec.name,
                    argv=service_command(spec.name),
                    instances=len(registry_ports),
                    port=registry_ports[0],
                    scalable=False,
                    slot_ports=tuple(registry_ports),
                    slot_env=peers,
                )
            )
            continue
        services.append(
            ServicePlan(
                name=spec.name,
                argv=service_command(spec.name),
                instances=_instances(spec),
                port=chosen.get(spec.name, 0),
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


def _registry_ports(
    first: int, count: int, choose: Callable[[int], PortChoice], warnings: list[str]
) -> list[int]:
    ports: list[int] = []
    for index in range(count):
        want = first + index if first + index <= 65535 else 0
        choice = choose(want)
        for _ in range(8):  # a fallback port the OS happened to give twice
            if choice.port not in ports:
                break
            choice = choose(0)
        if choice.moved and want:
            warnings.append(
                f"port {want} for registry is taken by another program; "
                f"registry-{index + 1} listens on {choice.port} instead"
            )
        ports.append(choice.port)
    return ports
