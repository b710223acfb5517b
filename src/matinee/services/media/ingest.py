"""Admission of an ingest: the checks a request passes before a job is queued.

Shared by ``POST /admin/ingest`` and ``matinee ingest``. The path must name a regular
file inside an allowed root (the data dir, ``MATINEE_MEDIA_INGEST_ROOTS``): an
admin API that reads any file the server can would leak the server's files. The
file is hashed (its asset id) and probed, so what cannot play is refused at once,
before anything is queued or written. The same file a second time is a no-op: its
existing job is returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from matinee.services.media.domain import Job, JobStatus, asset_id_of
from matinee.services.media.storage import SqlJobs
from matinee.services.media.worker import Encoder, sha256_of

__all__ = ["Admission", "BadSource", "Ingestor", "OutsideRoots"]


class BadSource(ValueError):
    """The path does not name a readable regular file."""


class OutsideRoots(PermissionError):
    """The path lies outside every directory ingest may read."""


@dataclass(frozen=True, slots=True)
class Admission:
    """The job an ingest request maps to, and whether this request created it."""

    job: Job
    created: bool


class Ingestor:
    """Checks and queues ingest requests."""

    def __init__(
        self,
        jobs: SqlJobs,
        encoder: Encoder,
        roots: Sequence[Path],
        *,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.jobs = jobs
        self.encoder = encoder
        self.roots = [Path(r).resolve() for r in roots]
        self.on_queued = on_queued

    def source(self, raw: str) -> Path:
        """Return the real path of an ingestable file; raise BadSource or OutsideRoots."""
        path = Path(raw)
        if not path.is_absolute():
            raise BadSource("path must be absolute (a file on the media server)")
        try:
            # strict: symlinks are followed, so a link inside a root to a file outside
            # it is judged by where it really leads.
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise BadSource(f"no such file: {raw}") from None
        if not any(real.is_relative_to(root) for root in self.roots):
            raise OutsideRoots(f"{raw} is outside the directories media may ingest from")
        if not real.is_file():
            raise BadSource(f"not a regular file: {raw}")
        return real

    async def admit(self, raw: str, title_id: int) -> Admission:
        """Queue ``raw`` for ``title_id`` unless its asset has a job; raise what refuses it."""
        path = self.source(raw)
        try:
            digest = await asyncio.to_thread(sha256_of, path)
        except OSError as exc:
            raise BadSource(f"cannot read {raw}: {exc.strerror}") from None
        asset_id = asset_id_of(digest)
        existing = await self.jobs.by_asset(asset_id)
        if existing is not None and existing.status is not JobStatus.FAILED:
            return Admission(existing, created=False)
        info = await self.encoder.probe(path)  # raises Unplayable
        info.check_playable()
        job, created = await self.jobs.enqueue(asset_id, title_id, str(path))
        if created and self.on_queued is not None:
            self.on_queued()
        return Admission(job, created)
