"""Starting instance processes: the real launcher, and the commands it runs.

Every instance is its own session (so a Ctrl-C on the terminal reaches only the
supervisor, which then stops the fleet in order) and asks the kernel to SIGTERM
it if the supervisor dies, so a crashed supervisor leaves no orphans behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from matinee.platform.events.server import nats_server_command

__all__ = [
    "LaunchSpec",
    "Launcher",
    "Proc",
    "SubprocessLauncher",
    "nats_command",
    "service_command",
]


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """What to run for one instance, with which environment, logging where."""

    instance_id: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None


class Proc(Protocol):
    """A started process, as the supervisor watches it."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None:
        """Return the exit code once the process has ended, else None."""
        ...

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` unless the process has already ended."""
        ...


class Launcher(Protocol):
    """Starts processes; tests pass a fake one to the supervisor."""

    def launch(self, spec: LaunchSpec) -> Proc:
        """Start ``spec`` and return the running process (raise OSError if it cannot)."""
        ...


_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    # Runs in the child between fork and exec: no allocation-heavy work here.
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os._exit(1)


class SubprocessLauncher:
    """Starts instances as OS processes, stdout and stderr appended to their log file."""

    def launch(self, spec: LaunchSpec) -> Proc:
        """Start ``spec`` in its own session, tied to the supervisor's life."""
        log = subprocess.DEVNULL
        if spec.log_path is not None:
            spec.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = os.open(spec.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        parent = os.getpid()
        on_linux = sys.platform.startswith("linux")
        try:
            return subprocess.Popen(
                spec.argv,
                env=spec.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                preexec_fn=(lambda: _die_with(parent)) if on_linux else None,
            )
        finally:
            if isinstance(log, int) and log >= 0 and log != subprocess.DEVNULL:
                os.close(log)


def service_command(service: str) -> list[str]:
    """Return the command that runs one instance of ``service``."""
    return [sys.executable, "-m", "matinee.runner", service]


def nats_command(port: int, store_dir: Path) -> list[str]:
    """Return the command for an embedded nats-server with JetStream under ``store_dir``."""
    return nats_server_command(port, store_dir)
