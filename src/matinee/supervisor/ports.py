"""Port choice: the well-known port when it is free, any free port when it is not.

A taken port is never fatal (issue 2): the fleet moves aside, says so loudly,
and tells every instance where the registry really is.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

__all__ = ["PortChoice", "choose_port", "free_port", "port_is_free"]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return whether we could listen on ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR so a port in TIME_WAIT from our own last run still counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port the OS considers free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class PortChoice:
    """The port a fixed-port service will use, and why."""

    wanted: int
    port: int

    @property
    def moved(self) -> bool:
        return self.port != self.wanted


def choose_port(wanted: int, host: str = "127.0.0.1") -> PortChoice:
    """Return ``wanted`` if it is free, else a free port in its place."""
    if wanted and port_is_free(wanted, host):
        return PortChoice(wanted, wanted)
    return PortChoice(wanted, free_port(host))
