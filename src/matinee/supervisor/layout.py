"""Where a fleet keeps its files under the data dir, and how they are written.

| path | what |
|---|---|
| ``supervisor.lock`` | held (flock) by the running supervisor; holds its pid |
| ``state.json`` | the supervisor's view: every instance, its pid, port, restarts |
| ``control/`` | requests to the running supervisor (``matinee scale``), one file each |
| ``logs/<service>/<instance>.log`` | stdout and stderr of one instance |
| ``logs/supervisor.log`` | the supervisor's own log |
| ``nats/`` | JetStream storage of the embedded nats-server |
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FleetPaths", "read_json", "write_json_atomic"]


@dataclass(frozen=True, slots=True)
class FleetPaths:
    """The files of the fleet that runs on one data dir."""

    data_dir: Path

    @classmethod
    def of(cls, data_dir: str | os.PathLike[str]) -> FleetPaths:
        """Return the layout of ``data_dir`` (made absolute, not created)."""
        return cls(Path(data_dir).expanduser().resolve())

    @property
    def lock(self) -> Path:
        return self.data_dir / "supervisor.lock"

    @property
    def state(self) -> Path:
        return self.data_dir / "state.json"

    @property
    def control(self) -> Path:
        return self.data_dir / "control"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def supervisor_log(self) -> Path:
        return self.logs / "supervisor.log"

    @property
    def nats_store(self) -> Path:
        return self.data_dir / "nats"

    def instance_log(self, service: str, instance_id: str) -> Path:
        """Return the log file of one instance."""
        return self.logs / service / f"{instance_id}.log"

    def create(self) -> None:
        """Create the directories the supervisor writes to."""
        for path in (self.data_dir, self.control, self.logs, self.nats_store):
            path.mkdir(parents=True, exist_ok=True)


def write_json_atomic(path: Path, value: Any) -> None:
    """Write ``value`` as JSON so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(value, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """Return the JSON in ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
