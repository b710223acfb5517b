"""The job state machine: claim, progress, retries with backoff, stale attempts."""

from __future__ import annotations

import pytest

from matinee.services.media.domain import (
    IllegalTransition,
    Job,
    JobStatus,
    backoff,
    claim,
    fail,
    is_stale,
    progress,
    requeue,
    succeed,
)


def queued() -> Job:
    return Job(id="j1", asset_id="0123456789abcdef", title_id=7, source_path="/x.mp4")


def test_a_claimed_job_runs_for_its_worker_and_counts_the_attempt():
    job = claim(queued(), "w1", now=10.0)
    assert job.status is JobStatus.RUNNING and job.worker == "w1" and job.attempts == 1
    assert job.heartbeat_at == 10.0


def test_only_queued_jobs_can_be_claimed():
    running = claim(queued(), "w1", 1.0)
    with pytest.raises(IllegalTransition):
        claim(running, "w2", 2.0)
    with pytest.raises(IllegalTransition):
        claim(succeed(running, 3.0), "w2", 4.0)


def test_progress_never_goes_backwards_and_beats_the_heartbeat():
    job = progress(claim(queued(), "w", 1.0), 0.5, now=5.0)
    job = progress(job, 0.2, now=6.0)
    assert job.progress == 0.5 and job.heartbeat_at == 6.0


def test_a_transient_failure_is_retried_after_a_growing_backoff():
    job = claim(queued(), "w", 0.0)
    retry = fail(job, "ffmpeg crashed", 100.0, permanent=False, max_attempts=3, base_backoff=5)
    assert retry.status is JobStatus.QUEUED and retry.run_after == 105.0
    with pytest.raises(IllegalTransition):
        claim(retry, "w", 101.0)  # still backing off
    second = claim(retry, "w", 105.0)
    again = fail(second, "ffmpeg crashed", 200.0, permanent=False, max_attempts=3, base_backoff=5)
    assert again.run_after == 210.0
    assert [backoff(n, 5) for n in (1, 2, 3)] == [5, 10, 20]


def test_a_job_fails_for_good_after_its_last_attempt_or_a_permanent_error():
    job = queued()
    for _ in range(3):
        job = claim(job, "w", job.run_after)
        job = fail(job, "boom", job.run_after, permanent=False, max_attempts=3, base_backoff=0)
    assert job.status is JobStatus.FAILED and job.error == "boom"
    bad = fail(claim(queued(), "w", 0), "no video", 1, permanent=True, max_attempts=3,
               base_backoff=0)  # fmt: skip
    assert bad.status is JobStatus.FAILED and bad.attempts == 1


def test_a_job_whose_worker_stopped_beating_is_stale_and_goes_back_to_the_queue():
    job = claim(queued(), "w", 0.0)
    assert not is_stale(job, 30.0, stale_after=60.0)
    assert is_stale(job, 61.0, stale_after=60.0)
    again = requeue(job, 61.0, reason="worker died")
    assert again.status is JobStatus.QUEUED and again.attempts == 1 and again.worker == ""


def test_a_failed_job_ingested_again_starts_over():
    failed = fail(claim(queued(), "w", 0), "x", 1, permanent=True, max_attempts=3, base_backoff=0)
    again = requeue(failed, 2.0)
    assert again.status is JobStatus.QUEUED and again.attempts == 0
    with pytest.raises(IllegalTransition):
        requeue(succeed(claim(queued(), "w", 0), 1), 2)
