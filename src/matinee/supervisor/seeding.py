"""Seed a fresh data dir once the fleet is UP, and let ``up --detach`` wait for it.

The supervisor runs ``matinee seed`` as a child process (a client of the fleet, like
any other) when the data dir has no ``seeded`` marker; its output goes to the
supervisor's log. ``seed.json`` tells ``matinee up --detach`` whether to wait and
what to print. ``MATINEE_SEED`` picks the catalog: ``small`` (default), ``large``,
or ``off`` to skip seeding.

| usage | does |
|---|---|
| ``seed_plan(plan)`` | the catalog to seed, or None (marker present, off, no catalog) |
| ``await seed_when_ready(supervisor, "small")`` | waits for UP, runs the seed once |
| ``wait_for_seed(paths, pid, say)`` | (CLI) waits for that run; returns its summary lines |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping

from matinee.supervisor.core import Supervisor
from matinee.supervisor.layout import FleetPaths, read_json, write_json_atomic
from matinee.supervisor.plan import FleetPlan

__all__ = ["SEED_STATUS", "seed_plan", "seed_when_ready", "wait_for_seed"]

log = logging.getLogger("matinee.supervisor")

SEED_STATUS = "seed.json"
_MARKER = "seeded"  # written by ``matinee seed`` itself (matinee.seed.SEED_MARKER)
_OFF = {"off", "0", "no", "false", "none"}
# How long ``up --detach`` waits for a seed (the large catalog takes minutes).
_SEED_WAIT = 900.0


def seed_plan(plan: FleetPlan, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the catalog to seed this fleet with, or None when it needs no seed."""
    choice = (environ if environ is not None else plan.env).get("MATINEE_SEED", "small")
    choice = choice.strip().lower() or "small"
    if choice in _OFF or plan.service("catalog") is None:
        return None
    if (plan.paths.data_dir / _MARKER).exists():
        return None
    return choice if choice in ("small", "large") else "small"


def _status(paths: FleetPaths, pid: int, state: str, **extra: object) -> None:
    write_json_atomic(
        paths.data_dir / SEED_STATUS, {"supervisor_pid": pid, "state": state, **extra}
    )


async def seed_when_ready(supervisor: Supervisor, catalog: str, *, pid: int) -> None:
    """Wait until the fleet is UP, then run ``matinee seed`` once and record the outcome."""
    paths = supervisor.plan.paths
    _status(paths, pid, "pending", catalog=catalog)
    while supervisor.ready_at is None:  # noqa: ASYNC110 - the supervisor has no event to await
        await asyncio.sleep(0.2)
    _status(paths, pid, "running", catalog=catalog)
    log.info("seeding the fresh data dir with the %s catalog", catalog)
    argv = [sys.executable, "-m", "matinee.cli", "seed", "--catalog", catalog,
            "--data-dir", str(paths.data_dir)]  # fmt: skip
    env = {**supervisor.plan.env, "MATINEE_REGISTRY_URL": supervisor.plan.registry_url}
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[str] = []
    try:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            output.append(line)
            log.info("seed: %s", line)
        code = await proc.wait()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        _status(paths, pid, "cancelled", catalog=catalog)
        raise
    marker = read_json(paths.data_dir / _MARKER)
    if code == 0 and isinstance(marker, dict):
        lines = [str(line) for line in marker.get("lines", [])]
        _status(paths, pid, "done", catalog=catalog, lines=lines)
        log.info("seed finished in %.1f s", time.monotonic() - started)
    else:
        tail = output[-5:]
        _status(paths, pid, "failed", catalog=catalog, code=code, lines=tail)
        log.error("seed failed with code %s; `matinee seed` retries it", code)


def wait_for_seed(paths: FleetPaths, pid: int, say: Callable[[str], None]) -> list[str]:
    """Wait for the seed the supervisor ``pid`` runs, if any; return the lines to print."""
    deadline = time.monotonic() + _SEED_WAIT
    announced = False
    while time.monotonic() < deadline:
        status = read_json(paths.data_dir / SEED_STATUS)
        if not isinstance(status, dict) or status.get("supervisor_pid") != pid:
            return []
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ["", "the supervisor exited before the seed finished"]
        except PermissionError:
            pass
        state = status.get("state")
        if state == "done":
            return ["", *[str(line) for line in status.get("lines", [])]]
        if state in ("failed", "cancelled"):
            return [
                "",
                f"seeding the catalog failed ({state}); `matinee logs supervisor` shows why,",
                f"`matinee seed --data-dir {paths.data_dir}` tries again:",
                *[f"  {line}" for line in status.get("lines", [])],
            ]
        if not announced:
            say(f"  seeding the {status.get('catalog', 'small')} catalog (first start)...")
            announced = True
        time.sleep(0.25)
    return ["", "the seed is still running; `matinee logs supervisor -f` follows it"]
