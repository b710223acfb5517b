"""The supervisor: runs the fleet as OS processes on one machine (DESIGN.md rule 7).

| usage | what |
|---|---|
| ``plan_fleet(FleetPaths.of(".matinee"), discover_services())`` | ports, commands, NATS |
| ``serve(plan, lock)`` | run the fleet in this process until SIGTERM/SIGINT |
| ``lock_holder(paths.lock)`` | pid of the supervisor running on a data dir, or None |
| ``send_request(paths, "scale", service="catalog", count=3)`` | ask it to scale |
| ``fleet_rows(read_json(paths.state), fetch_registered(url))`` | what ``matinee status`` shows |
"""

from matinee.supervisor.control import ControlTimeout, send_request
from matinee.supervisor.core import Backoff, LiveProbe, Probe, Slot, Supervisor
from matinee.supervisor.layout import FleetPaths, read_json, write_json_atomic
from matinee.supervisor.lock import FleetLock, FleetLocked, lock_holder
from matinee.supervisor.plan import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_REGISTRIES,
    DEFAULT_REGISTRY_PORT,
    FleetPlan,
    ServicePlan,
    discover_services,
    plan_fleet,
)
from matinee.supervisor.ports import PortChoice, choose_port, free_port, port_is_free
from matinee.supervisor.procs import Launcher, LaunchSpec, Proc, SubprocessLauncher
from matinee.supervisor.registry_view import (
    Registered,
    fetch_registered,
    parse_apps,
    registry_base_url,
)
from matinee.supervisor.serve import configure_supervisor_logging, serve
from matinee.supervisor.status import fleet_rows, format_table

__all__ = [
    "DEFAULT_GATEWAY_PORT",
    "DEFAULT_REGISTRIES",
    "DEFAULT_REGISTRY_PORT",
    "Backoff",
    "ControlTimeout",
    "FleetLock",
    "FleetLocked",
    "FleetPaths",
    "FleetPlan",
    "LaunchSpec",
    "Launcher",
    "LiveProbe",
    "PortChoice",
    "Probe",
    "Proc",
    "Registered",
    "ServicePlan",
    "Slot",
    "SubprocessLauncher",
    "Supervisor",
    "choose_port",
    "configure_supervisor_logging",
    "discover_services",
    "fetch_registered",
    "fleet_rows",
    "format_table",
    "free_port",
    "lock_holder",
    "parse_apps",
    "plan_fleet",
    "port_is_free",
    "read_json",
    "registry_base_url",
    "send_request",
    "serve",
    "write_json_atomic",
]
