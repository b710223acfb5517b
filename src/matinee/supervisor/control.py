"""Talking to the running supervisor: request files in ``control/``, answered by reply files.

A file per request needs no socket path limits and survives any client dying
mid-way; the supervisor picks requests up on its next pass (every 0.1 s).
``matinee down`` needs none of this: it SIGTERMs the pid held in the lock.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from matinee.supervisor.layout import FleetPaths, read_json, write_json_atomic

__all__ = ["ControlTimeout", "send_request"]


class ControlTimeout(TimeoutError):
    """The supervisor did not answer in time."""


def send_request(
    paths: FleetPaths, command: str, timeout: float = 10.0, **args: Any
) -> tuple[bool, str]:
    """Hand ``command`` to the supervisor and return its answer (ok, message)."""
    request_id = f"{time.time_ns()}-{secrets.token_hex(4)}"
    reply = paths.control / f"{request_id}.reply.json"
    write_json_atomic(
        paths.control / f"{request_id}.request.json",
        {"id": request_id, "command": command, **args},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = read_json(reply)
        if isinstance(answer, dict):
            reply.unlink(missing_ok=True)
            return bool(answer.get("ok")), str(answer.get("message", ""))
        time.sleep(0.05)
    (paths.control / f"{request_id}.request.json").unlink(missing_ok=True)
    raise ControlTimeout(f"the supervisor did not answer within {timeout:.0f} s")
