"""The real fleet for end-to-end tests: ``matinee up --detach`` in a temporary data dir.

``fleet`` is module-scoped: each e2e module gets its own fleet, started with the
real CLI on free ports and always brought down (and any leftover killed) after.

| usage | gives |
|---|---|
| ``fleet.gateway_url``, ``fleet.registry_url`` | ``http://127.0.0.1:P`` (``.../eureka``) |
| ``fleet.registry_urls`` | every registry peer's Eureka URL (``registry_url`` is the first) |
| ``fleet.status()`` | ``matinee status --json``, parsed |
| ``fleet.wait_for(lambda rows: ...)`` | the rows once the predicate holds (or a failure) |
| ``fleet.cli("scale", "catalog", "3")`` | a finished ``matinee`` run on this data dir |
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from matinee.supervisor import free_port, read_json

Rows = list[dict[str, Any]]


def matinee_command() -> list[str]:
    """Return the argv of the installed ``matinee`` console script (or the module)."""
    script = Path(sys.executable).parent / "matinee"
    return [str(script)] if script.exists() else [sys.executable, "-m", "matinee.cli"]


@dataclass
class Fleet:
    """A running fleet and the means to look at and operate it."""

    data_dir: Path
    gateway_url: str
    registry_urls: list[str]
    up: subprocess.CompletedProcess[str]

    @property
    def registry_url(self) -> str:
        """Return the first registry's Eureka URL (the one clients prefer)."""
        return self.registry_urls[0] if self.registry_urls else ""

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``matinee ARGS --data-dir <this fleet>`` and return the finished process."""
        return subprocess.run(
            [*matinee_command(), *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def status(self) -> Rows:
        """Return ``matinee status --json`` as a list of instance rows."""
        done = self.cli("status", "--json")
        assert done.returncode == 0, done.stderr
        rows: Rows = json.loads(done.stdout)
        return rows

    def wait_for(self, predicate: Callable[[Rows], bool], timeout: float = 60) -> Rows:
        """Poll status until ``predicate(rows)`` holds; fail with the last rows if it never does."""
        deadline = time.monotonic() + timeout
        rows: Rows = []
        while time.monotonic() < deadline:
            rows = self.status()
            if predicate(rows):
                return rows
            time.sleep(0.3)
        pytest.fail(f"fleet never reached the expected state; last status: {rows}")

    def pids(self) -> set[int]:
        """Return the pids of the supervisor and every instance it runs now."""
        state = read_json(self.data_dir / "state.json") or {}
        found = {int(i["pid"]) for i in state.get("instances", []) if i.get("pid")}
        if state.get("pid"):
            found.add(int(state["pid"]))
        return found


def start_fleet(data_dir: Path, gateway_port: int, registry_port: int) -> Fleet:
    """Start a fleet with ``matinee up --detach``; fail the test if it does not come up."""
    up = subprocess.run(
        [
            *matinee_command(),
            "up",
            "--detach",
            "--data-dir",
            str(data_dir),
            "--gateway-port",
            str(gateway_port),
            "--registry-port",
            str(registry_port),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    state = read_json(data_dir / "state.json") or {}
    fleet = Fleet(
        data_dir=data_dir,
        gateway_url=str(state.get("gateway_url") or ""),
        registry_urls=[str(u) for u in state.get("registry_urls") or []],
        up=up,
    )
    if up.returncode != 0:
        stop_fleet(fleet)
        log = (data_dir / "logs" / "supervisor.log").read_text(errors="replace")[-4000:]
        pytest.fail(f"matinee up failed:\n{up.stdout}\n{up.stderr}\nsupervisor log:\n{log}")
    return fleet


def stop_fleet(fleet: Fleet) -> None:
    """Run ``matinee down``, then kill anything of this data dir that is still alive."""
    try:
        fleet.cli("down", timeout=90)
    finally:
        kill_leftovers(fleet.data_dir)


def kill_leftovers(data_dir: Path) -> list[int]:
    """Kill every process started for ``data_dir``; return their pids (empty when clean)."""
    marker = str(data_dir)
    killed = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.pid == os.getpid():
            continue
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            ours = marker in cmdline or proc.environ().get("MATINEE_DATA_DIR") == marker
            if ours and proc.status() != psutil.STATUS_ZOMBIE:
                proc.kill()
                killed.append(proc.pid)
        except psutil.Error:
            continue
    return killed


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """A fleet of this module's own, brought down whatever happens."""
    data_dir = tmp_path_factory.mktemp("fleet").resolve()
    running = start_fleet(data_dir, free_port(), free_port())
    try:
        yield running
    finally:
        stop_fleet(running)
