"""The worker: claims jobs from the durable queue and turns each source into an asset.

One attempt: check the source is still the file that was ingested, probe it, measure
its complexity, choose the ladder, encode into a staging directory, write the
manifests (``ladder.json`` last), publish the directory atomically, mark the job
done, announce :class:`AssetReady`. A failure discards the staging directory, so no
partial asset is ever visible; it is retried with backoff unless it is permanent.
While it runs, the attempt beats a heartbeat; a worker that dies stops beating and
any instance's worker queues its job again (``stale_after``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

import orjson

from matinee.platform.events import EventBus
from matinee.services.media.domain import (
    Job,
    MediaError,
    Rung,
    SourceChanged,
    SourceInfo,
    asset_id_of,
    build_ladder,
    choose_ladder,
    complexity_of,
    dash_mpd,
    fail,
    hls_master,
    progress,
    succeed,
)
from matinee.services.media.events import AssetReady
from matinee.services.media.ffmpeg import Encoded
from matinee.services.media.storage import OriginStore, SqlJobs

__all__ = ["Encoder", "Worker", "WorkerPolicy", "sha256_of"]

log = logging.getLogger("matinee.media.worker")


class Encoder(Protocol):
    """What the worker needs from an encoder (``Ffmpeg``, or a fake in unit tests)."""

    async def probe(self, path: Path) -> SourceInfo: ...

    async def complexity(self, path: Path, info: SourceInfo) -> float: ...

    async def encode(
        self,
        path: Path,
        info: SourceInfo,
        rungs: Sequence[Rung],
        out_dir: Path,
        on_progress: Callable[[float], Awaitable[None]] | None = None,
    ) -> Encoded: ...


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of a file (blocking: run it in a thread)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerPolicy:
    """How the worker retries, beats and polls (from MediaSettings)."""

    max_attempts: int = 3
    retry_backoff: float = 5.0
    stale_after: float = 60.0
    heartbeat_interval: float = 5.0
    poll_interval: float = 2.0
    segment_seconds: float = 4.0


@dataclasses.dataclass(slots=True)
class _Attempt:
    job: Job
    saved_at: float = 0.0


class _LostClaim(Exception):
    """Another worker took the job over (this one was presumed dead)."""


class Worker:
    """Runs queued jobs, one at a time per :meth:`run` loop."""

    def __init__(
        self,
        jobs: SqlJobs,
        origin: OriginStore,
        encoder: Encoder,
        *,
        events: EventBus | None = None,
        policy: WorkerPolicy | None = None,
        name: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jobs = jobs
        self.origin = origin
        self.encoder = encoder
        self.events = events
        self.policy = policy or WorkerPolicy()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._clock = clock
        self._wake = asyncio.Event()
        self._poll_error = ""

    def wake(self) -> None:
        """Look at the queue now instead of at the next poll."""
        self._wake.set()

    async def run(self, slot: int = 0) -> None:
        """Claim and run jobs until cancelled."""
        name = f"{self.name}/{slot}"
        while True:
            try:
                await self.jobs.requeue_stale(self.policy.stale_after, self.policy.max_attempts)
                job = await self.jobs.claim_next(name)
            except Exception as exc:  # the database is down: keep polling, it comes back
                if str(exc) != self._poll_error:
                    log.warning("cannot poll the job queue: %s", exc)
                self._poll_error = str(exc)
                job = None
            else:
                self._poll_error = ""
            if job is not None:
                await self.process(job)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.policy.poll_interval)

    async def run_once(self) -> Job | None:
        """Claim one job and run it; return its final state, or None if none was queued."""
        await self.jobs.requeue_stale(self.policy.stale_after, self.policy.max_attempts)
        job = await self.jobs.claim_next(f"{self.name}/once")
        return await self.process(job) if job is not None else None

    async def process(self, job: Job) -> Job:
        """Run one claimed attempt of ``job`` to its outcome; return the job's new state."""
        owner = job.worker
        attempt = _Attempt(job)
        log.info("encoding asset %s (attempt %d)", job.asset_id, job.attempts,
                 extra={"job_id": job.id, "title_id": job.title_id})  # fmt: skip

        async def report(fraction: float, *, force: bool = False) -> None:
            now = self._clock()
            attempt.job = progress(attempt.job, fraction, now)
            if force or now - attempt.saved_at >= 0.5:
                attempt.saved_at = now
                if not await self.jobs.save(attempt.job, owner=owner):
                    raise _LostClaim(job.id)

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.policy.heartbeat_interval)
                await report(0.0, force=True)

        heart = asyncio.create_task(beat())
        staging: Path | None = None
        try:
            if self.origin.has(job.asset_id):
                ladder = self.origin.ladder(job.asset_id)  # published by an earlier attempt
            else:
                staging = self.origin.staging(job.asset_id)
                ladder = await self._encode(job, staging, report)
                self.origin.publish(staging, job.asset_id)
                staging = None
        except _LostClaim:
            log.warning("job %s was taken over by another worker; dropping", job.id)
            return attempt.job
        except Exception as exc:
            permanent = isinstance(exc, MediaError) and exc.permanent
            detail = str(exc) if isinstance(exc, MediaError) else f"{type(exc).__name__}: {exc}"
            after = fail(
                attempt.job, detail[:1000], self._clock(), permanent=permanent,
                max_attempts=self.policy.max_attempts, base_backoff=self.policy.retry_backoff,
            )  # fmt: skip
            log.warning("job %s attempt %d failed (%s): %s", job.id, job.attempts,
                        after.status, detail, exc_info=not isinstance(exc, MediaError))  # fmt: skip
            await self.jobs.save(after, owner=owner)
            return after
        finally:
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError, _LostClaim):
                await heart
            if staging is not None:
                self.origin.discard(staging)
        done = succeed(attempt.job, self._clock())
        await self.jobs.save(done, owner=owner)
        log.info("asset %s published", job.asset_id, extra={"job_id": job.id})
        if self.events is not None and ladder is not None:
            try:
                await self.events.publish(AssetReady.of(ladder))
            except Exception as exc:
                # The asset is served either way; consumers also read /assets on demand.
                log.warning("could not announce asset %s: %s", job.asset_id, exc)
        return done

    async def _encode(
        self, job: Job, staging: Path, report: Callable[..., Awaitable[None]]
    ) -> dict[str, object]:
        source = Path(job.source_path)
        try:
            digest = await asyncio.to_thread(sha256_of, source)
        except OSError as exc:
            raise SourceChanged(f"the source {source} cannot be read: {exc.strerror}") from None
        if asset_id_of(digest) != job.asset_id:
            raise SourceChanged(f"the file at {source} changed since it was ingested")
        info = await self.encoder.probe(source)
        info.check_playable()
        await report(0.02)
        complexity = complexity_of(await self.encoder.complexity(source, info))
        rungs = choose_ladder(info, complexity)
        await report(0.05)

        async def on_progress(fraction: float) -> None:
            await report(0.05 + 0.9 * fraction)

        encoded = await self.encoder.encode(source, info, rungs, staging, on_progress)
        duration = encoded.video[0].duration_s if encoded.video else info.duration_s
        thumbs = encoded.thumbnails
        ladder = build_ladder(
            encoded.video,
            encoded.audio,
            asset_id=job.asset_id,
            title_id=job.title_id,
            duration_s=duration,
            segment_seconds=self.policy.segment_seconds,
            extra={
                "complexity": complexity,
                "source": dataclasses.asdict(info),
                "thumbnails": thumbs,
                "poster": "thumbnails/poster.jpg" if thumbs else None,
                "created_at": self._clock(),
            },
        )
        (staging / "master.m3u8").write_text(hls_master(encoded.video, encoded.audio))
        (staging / "manifest.mpd").write_text(dash_mpd(encoded.video, encoded.audio, duration))
        # Last: an asset directory with a ladder.json is a complete one.
        (staging / "ladder.json").write_bytes(orjson.dumps(ladder, option=orjson.OPT_INDENT_2))
        await report(0.99, force=True)
        return ladder
