"""Media routes: admins ingest; anyone signed reads jobs, ladders and origin objects."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from matinee.platform.api import Router, json_response
from matinee.platform.errors import BadRequest, Forbidden, NotFound, ProblemError
from matinee.platform.identity import Identity, require_admin
from matinee.services.media.api.schemas import AssetPath, IngestIn, JobOut, JobPath
from matinee.services.media.domain import Unplayable
from matinee.services.media.ingest import BadSource, Ingestor, OutsideRoots
from matinee.services.media.storage import ObjectNotFound, OriginStore, SqlJobs

__all__ = ["CONTENT_TYPES", "UnprocessableContent", "build_router"]

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".json": "application/json",
}
# Published assets never change (a new source is a new asset id): caches keep them.
_IMMUTABLE = "public, max-age=31536000, immutable"


class UnprocessableContent(ProblemError):
    """The request is well formed but names a file that cannot become a stream."""

    status = 422
    title = "Unprocessable Content"


def build_router(ingestor: Ingestor, jobs: SqlJobs, origin: OriginStore) -> Router:
    """Return media's routes bound to its queue, its ingest checks and its origin store."""
    router = Router(tags=["media"])

    @router.post("/admin/ingest", body=IngestIn, response=JobOut, status=202)
    async def ingest(body: IngestIn, identity: Identity) -> Response:
        """Queue a file for encoding (202); the same file again returns its job (200)."""
        require_admin(identity)
        try:
            admission = await ingestor.admit(body.path, body.title_id)
        except BadSource as exc:
            error = {"field": "body.path", "message": str(exc)}
            raise BadRequest(str(exc), errors=[error]) from None
        except OutsideRoots as exc:
            raise Forbidden(str(exc)) from None
        except Unplayable as exc:
            raise UnprocessableContent(f"{body.path} cannot be streamed: {exc}") from None
        out = JobOut.from_domain(admission.job)
        return json_response(out, 202 if admission.created else 200)

    @router.get("/jobs/{job_id}", path_model=JobPath, response=JobOut)
    async def get_job(path: JobPath) -> JobOut:
        """Return a job's status, progress and error."""
        job = await jobs.get(path.job_id)
        if job is None:
            raise NotFound(f"job {path.job_id} does not exist")
        return JobOut.from_domain(job)

    @router.get("/assets/{asset_id}", path_model=AssetPath)
    async def get_asset(path: AssetPath) -> Response:
        """Return an asset's ladder.json: every rung with its per-segment sizes."""
        try:
            ladder = origin.asset_dir(path.asset_id) / "ladder.json"
            return Response(ladder.read_bytes(), media_type="application/json")
        except (ObjectNotFound, OSError):
            raise NotFound(f"asset {path.asset_id} does not exist") from None

    @router.get("/origin/{asset_id}/{object_path:path}")
    async def get_object(request: Request) -> Response:
        """Serve one object of a published asset to a CDN node (byte ranges supported)."""
        asset_id = request.path_params["asset_id"]
        object_path = request.path_params["object_path"]
        try:
            file = origin.resolve(asset_id, object_path)
        except ObjectNotFound:
            raise NotFound("no such object") from None
        suffix = file.suffix.lower()
        media_type = CONTENT_TYPES.get(suffix, "application/octet-stream")
        if suffix == ".mp4" and file.parent.name == "audio":
            media_type = "audio/mp4"
        return FileResponse(file, media_type=media_type, headers={"cache-control": _IMMUTABLE})

    return router
