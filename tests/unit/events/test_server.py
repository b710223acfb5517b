"""How the supervisor starts the fleet's nats-server."""

from __future__ import annotations

import os
from pathlib import Path

from matinee.platform.events import nats_server_binary, nats_server_command, nats_url


def test_the_wheels_nats_server_is_found() -> None:
    binary = Path(nats_server_binary())
    assert binary.name == "nats-server"
    assert os.access(binary, os.X_OK)


def test_command_enables_jetstream_on_loopback_with_store_under_the_data_dir(
    tmp_path: Path,
) -> None:
    command = nats_server_command(4333, tmp_path / "nats", http_port=8333)
    assert command[0] == nats_server_binary()
    flags = dict(zip(command[1::2], command[2::2], strict=False))
    assert "--jetstream" in command
    assert command[command.index("--store_dir") + 1] == str((tmp_path / "nats").resolve())
    assert flags["--addr"] == "127.0.0.1"
    assert flags["--port"] == "4333"
    assert command[command.index("--http_port") + 1] == "8333"
    assert nats_url(4333) == "nats://127.0.0.1:4333"
