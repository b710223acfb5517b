"""Request and response bodies of the media API (HTTP <-> domain)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from matinee.services.media.domain import Job

__all__ = ["AssetPath", "IngestIn", "JobOut", "JobPath"]

MAX_ID = 2**53


class IngestIn(BaseModel):
    """An ingest request: a file on the media server, for a catalog title."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096)
    title_id: int = Field(ge=1, le=MAX_ID)


class JobPath(BaseModel):
    """Path of one job."""

    job_id: str = Field(pattern=r"^[0-9a-f-]{36}$")


class AssetPath(BaseModel):
    """Path of one asset."""

    asset_id: str = Field(pattern=r"^[0-9a-f]{16}$")


class JobOut(BaseModel):
    """A job as clients read it."""

    job_id: str
    asset_id: str
    title_id: int
    status: str
    progress: float
    attempts: int
    error: str
    created_at: float
    updated_at: float
    # Where the finished asset's ladder is, once the job is done.
    ladder_url: str | None = None

    @classmethod
    def from_domain(cls, job: Job) -> JobOut:
        """Return the wire form of a job."""
        return cls(
            job_id=job.id,
            asset_id=job.asset_id,
            title_id=job.title_id,
            status=str(job.status),
            progress=round(job.progress, 4),
            attempts=job.attempts,
            error=job.error,
            created_at=job.created_at,
            updated_at=job.updated_at,
            ladder_url=f"/assets/{job.asset_id}" if job.status == "done" else None,
        )
