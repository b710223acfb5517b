"""Lease snapshots on disk, so a restarted registry still knows the fleet.

The file is replaced atomically (write, fsync, rename); a corrupt file is logged
and ignored, because instances re-register on their next heartbeat anyway.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

__all__ = ["SnapshotStore"]

log = logging.getLogger("matinee.registry.snapshot")

_FORMAT = 1


class SnapshotStore:
    """Save and load the lease table as one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, entries: list[dict[str, Any]]) -> None:
        """Write ``entries`` atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        data = orjson.dumps({"format": _FORMAT, "leases": entries})
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def load(self) -> list[dict[str, Any]]:
        """Return the saved entries; empty when there is no usable snapshot."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("cannot read lease snapshot %s: %s", self.path, exc)
            return []
        try:
            doc = orjson.loads(raw)
            leases = doc["leases"]
            if not isinstance(leases, list):
                raise TypeError("leases is not a list")
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log.warning("ignoring corrupt lease snapshot %s: %s", self.path, exc)
            return []
        return [entry for entry in leases if isinstance(entry, dict)]
