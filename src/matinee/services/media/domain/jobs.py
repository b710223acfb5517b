"""The job state machine of the encoding queue, as pure functions over :class:`Job`.

```
queued --claim--> running --succeed--> done
   ^                 |  \\--fail (permanent, or attempts used up)--> failed
   |                 |
   +--fail (retry after backoff) / heartbeat stale (its worker died)
```

Storage applies these transitions atomically; the worker decides which one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["IllegalTransition", "Job", "JobStatus", "backoff", "claim", "fail", "is_stale",
           "progress", "requeue", "succeed"]  # fmt: skip


class JobStatus(StrEnum):
    """Where a job stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class IllegalTransition(Exception):
    """A transition the state machine does not allow from the job's current state."""


@dataclass(frozen=True, slots=True)
class Job:
    """One ingest: encode ``source_path`` into asset ``asset_id`` for ``title_id``."""

    id: str
    asset_id: str
    title_id: int
    source_path: str
    status: JobStatus = JobStatus.QUEUED
    attempts: int = 0
    progress: float = 0.0
    error: str = ""
    worker: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    heartbeat_at: float = 0.0
    # A queued job is not claimed before this time (retry backoff).
    run_after: float = 0.0

    @property
    def finished(self) -> bool:
        """Tell whether the job reached a final state."""
        return self.status in (JobStatus.DONE, JobStatus.FAILED)


def _require(job: Job, *allowed: JobStatus) -> None:
    if job.status not in allowed:
        raise IllegalTransition(f"job {job.id} is {job.status}, not {'/'.join(allowed)}")


def backoff(attempts: int, base: float) -> float:
    """Return the delay before retry number ``attempts`` (base, 2 base, 4 base, ...)."""
    return base * (2 ** max(0, attempts - 1))


def claim(job: Job, worker: str, now: float) -> Job:
    """Start an attempt: queued -> running, owned by ``worker``."""
    _require(job, JobStatus.QUEUED)
    if now < job.run_after:
        raise IllegalTransition(f"job {job.id} waits until {job.run_after}")
    return dataclasses.replace(
        job,
        status=JobStatus.RUNNING,
        attempts=job.attempts + 1,
        progress=0.0,
        worker=worker,
        heartbeat_at=now,
        updated_at=now,
    )


def progress(job: Job, fraction: float, now: float) -> Job:
    """Record progress (0..1, never backwards within an attempt) and a heartbeat."""
    _require(job, JobStatus.RUNNING)
    value = min(1.0, max(job.progress, fraction))
    return dataclasses.replace(job, progress=value, heartbeat_at=now, updated_at=now)


def succeed(job: Job, now: float) -> Job:
    """Finish the job: running -> done."""
    _require(job, JobStatus.RUNNING)
    return dataclasses.replace(
        job, status=JobStatus.DONE, progress=1.0, error="", worker="", updated_at=now
    )


def fail(
    job: Job, error: str, now: float, *, permanent: bool, max_attempts: int, base_backoff: float
) -> Job:
    """End an attempt in failure: queued again after a backoff, or failed for good."""
    _require(job, JobStatus.RUNNING)
    if permanent or job.attempts >= max_attempts:
        return dataclasses.replace(
            job, status=JobStatus.FAILED, error=error, worker="", updated_at=now
        )
    return dataclasses.replace(
        job,
        status=JobStatus.QUEUED,
        error=error,
        worker="",
        updated_at=now,
        run_after=now + backoff(job.attempts, base_backoff),
    )


def is_stale(job: Job, now: float, stale_after: float) -> bool:
    """Tell whether a running job's worker stopped beating (it crashed or was killed)."""
    return job.status is JobStatus.RUNNING and now - job.heartbeat_at > stale_after


def requeue(job: Job, now: float, reason: str = "") -> Job:
    """Put a job back in the queue: a stale attempt, or a failed job ingested again."""
    _require(job, JobStatus.RUNNING, JobStatus.FAILED)
    attempts = 0 if job.status is JobStatus.FAILED else job.attempts
    return dataclasses.replace(
        job,
        status=JobStatus.QUEUED,
        attempts=attempts,
        progress=0.0,
        error=reason or job.error,
        worker="",
        updated_at=now,
        run_after=now,
    )
