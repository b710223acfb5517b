"""The worker over the real jobs table (SQLite in memory) with a fake encoder."""

from __future__ import annotations

import pytest

from matinee.platform.events import InMemoryBus
from matinee.platform.storage import Database
from matinee.services.media.domain import JobStatus
from matinee.services.media.events import AssetReady
from matinee.services.media.ingest import BadSource, Ingestor, OutsideRoots
from matinee.services.media.storage import MIGRATIONS, OriginStore, SqlJobs
from matinee.services.media.worker import Worker, WorkerPolicy
from tests.unit.media.fakes import FakeEncoder


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def rig(tmp_path):
    db = Database("media", "sqlite:///:memory:")
    await db.start(MIGRATIONS)
    clock = Clock()
    jobs = SqlJobs(db, clock=clock)
    origin = OriginStore(tmp_path / "origin")
    origin.start()
    encoder = FakeEncoder()
    bus = InMemoryBus()
    policy = WorkerPolicy(max_attempts=3, retry_backoff=10, stale_after=60)
    worker = Worker(jobs, origin, encoder, events=bus, policy=policy, name="w", clock=clock)
    ingestor = Ingestor(jobs, encoder, [tmp_path])
    source = tmp_path / "film.mp4"
    source.write_bytes(b"not really a film, the fake encoder does not care")
    yield worker, ingestor, source, clock, bus
    await db.close()


async def test_an_ingested_file_becomes_a_published_asset_and_is_announced(rig):
    worker, ingestor, source, _clock, bus = rig
    admission = await ingestor.admit(str(source), title_id=42)
    assert admission.created and admission.job.status is JobStatus.QUEUED
    done = await worker.run_once()
    assert done is not None and done.status is JobStatus.DONE and done.progress == 1.0
    ladder = worker.origin.ladder(done.asset_id)
    assert ladder is not None and ladder["title_id"] == 42
    assert [r["name"] for r in ladder["rungs"]] == ["240p", "360p"]
    assert ladder["rungs"][0]["segment_sizes"] == [1016, 2016, 3016]
    [event] = bus.published
    assert isinstance(event, AssetReady) and event.asset_id == done.asset_id
    assert event.title_id == 42 and [r.name for r in event.rungs] == ["240p", "360p"]


async def test_the_same_file_twice_is_a_no_op(rig):
    worker, ingestor, source, _clock, _bus = rig
    first = await ingestor.admit(str(source), title_id=1)
    await worker.run_once()
    second = await ingestor.admit(str(source), title_id=1)
    assert not second.created and second.job.id == first.job.id
    assert second.job.status is JobStatus.DONE
    assert await worker.run_once() is None
    assert worker.encoder.encodes == 1


async def test_a_transient_failure_is_retried_after_backoff_and_leaves_nothing_behind(rig):
    worker, ingestor, source, clock, _bus = rig
    worker.encoder.fail_times = 1
    admission = await ingestor.admit(str(source), title_id=1)
    retry = await worker.run_once()
    assert retry is not None and retry.status is JobStatus.QUEUED and "ffmpeg" in retry.error
    assert not worker.origin.has(admission.job.asset_id)
    assert list((worker.origin.root / ".staging").iterdir()) == []
    assert await worker.run_once() is None  # backing off
    clock.now += 11
    done = await worker.run_once()
    assert done is not None and done.status is JobStatus.DONE and done.attempts == 2


async def test_a_source_that_changed_since_ingest_fails_for_good(rig):
    worker, ingestor, source, _clock, _bus = rig
    admission = await ingestor.admit(str(source), title_id=1)
    source.write_bytes(b"another file now")
    failed = await worker.run_once()
    assert failed is not None and failed.status is JobStatus.FAILED
    assert "changed" in failed.error and not worker.origin.has(admission.job.asset_id)


async def test_a_job_of_a_dead_worker_is_resumed(rig):
    worker, ingestor, source, clock, _bus = rig
    admission = await ingestor.admit(str(source), title_id=1)
    claimed = await worker.jobs.claim_next("dead-worker")
    assert claimed is not None and claimed.status is JobStatus.RUNNING
    assert await worker.run_once() is None  # its heartbeat is fresh: it is not ours
    clock.now += 61
    done = await worker.run_once()
    assert done is not None and done.id == admission.job.id and done.status is JobStatus.DONE


async def test_a_worker_presumed_dead_cannot_overwrite_its_successor(rig):
    worker, ingestor, source, clock, _bus = rig
    await ingestor.admit(str(source), title_id=1)
    old = await worker.jobs.claim_next("old")
    clock.now += 61
    await worker.jobs.requeue_stale(60, 3)
    new = await worker.jobs.claim_next("new")
    assert old is not None and new is not None and new.id == old.id
    assert await worker.jobs.save(old, owner="old") is False
    assert (await worker.jobs.get(old.id)).worker == "new"


async def test_ingest_refuses_paths_outside_its_roots_and_non_files(rig, tmp_path_factory):
    _worker, ingestor, source, _clock, _bus = rig
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "film.mp4"
    elsewhere.write_bytes(b"x")
    with pytest.raises(OutsideRoots):
        await ingestor.admit(str(elsewhere), 1)
    link = source.parent / "link.mp4"
    link.symlink_to(elsewhere)
    with pytest.raises(OutsideRoots):
        await ingestor.admit(str(link), 1)
    for bad in ("relative.mp4", str(source.parent / "missing.mp4"), str(source.parent)):
        with pytest.raises(BadSource):
            await ingestor.admit(bad, 1)
