"""Run a fleet in this process: the lock, the signals, the supervisor's log.

``serve(plan)`` is what ``matinee up`` runs in the foreground and what the
detached supervisor process runs. SIGTERM, SIGINT or SIGHUP stop the fleet
gracefully; a second one stops waiting and kills what is left.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from matinee.supervisor.core import LiveProbe, Supervisor
from matinee.supervisor.lock import FleetLock
from matinee.supervisor.plan import FleetPlan
from matinee.supervisor.procs import SubprocessLauncher
from matinee.supervisor.seeding import seed_plan, seed_when_ready

__all__ = ["configure_supervisor_logging", "serve"]

_FORMAT = "%(asctime)s supervisor %(levelname)s %(message)s"


def configure_supervisor_logging(log_file: Path | None) -> None:
    """Log the supervisor's lines to stderr and, when given, to ``log_file``."""
    logger = logging.getLogger("matinee.supervisor")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(_FORMAT, datefmt="%H:%M:%S")
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    logger.addHandler(stream)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file)
        file_handler.setFormatter(formatter)
        logger.addHandler(file_handler)


def serve(plan: FleetPlan, lock: FleetLock) -> int:
    """Run the fleet until signalled, then release ``lock`` (already acquired)."""
    try:
        supervisor = Supervisor(
            plan, launcher=SubprocessLauncher(), probe=LiveProbe(plan.registry_url)
        )
        asyncio.run(_run(supervisor))
    finally:
        lock.release()
    return 0


async def _run(supervisor: Supervisor) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            supervisor.force()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, on_signal)
    # A fresh data dir is seeded once the fleet is UP (``MATINEE_SEED=off`` skips it).
    catalog = seed_plan(supervisor.plan)
    seeding = None
    if catalog is not None:
        seeding = asyncio.create_task(seed_when_ready(supervisor, catalog, pid=os.getpid()))
    try:
        await supervisor.run(stop)
    finally:
        if seeding is not None:
            seeding.cancel()
            await asyncio.gather(seeding, return_exceptions=True)
