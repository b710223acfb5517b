"""The node's own API (served by the chassis app): status for steering, prefill for ops."""

from __future__ import annotations

from starlette.responses import Response

from matinee.platform.api import Router, json_response
from matinee.platform.errors import NotFound
from matinee.platform.identity import Identity, require_admin
from matinee.services.cdn.api.schemas import JobPath, NodeOut, PrefillIn, PrefillOut
from matinee.services.cdn.node import CdnNode

__all__ = ["build_router"]


def build_router(node: CdnNode, *, window_s: float, rate_mbps: float) -> Router:
    """Return the node's routes; prefill defaults to ``window_s`` and ``rate_mbps``."""
    router = Router(tags=["cdn"])

    @router.get("/node", response=NodeOut)
    async def status() -> Response:
        """Report health, load, capacity and cached assets (playback polls it)."""
        return json_response(node.status())

    @router.post("/admin/prefill", body=PrefillIn, response=PrefillOut, status=202)
    async def prefill(body: PrefillIn, identity: Identity) -> Response:
        """Fill popular assets ahead of demand, within a window and at a rate (202)."""
        require_admin(identity)
        job = node.prefill(
            list(dict.fromkeys(body.assets)),
            window_s=body.window_s or window_s,
            rate_bytes_per_s=(body.rate_mbps or rate_mbps) * 1e6 / 8,
        )
        return json_response(job.as_dict(), 202)

    @router.get("/admin/prefill/{job_id}", path_model=JobPath, response=PrefillOut)
    async def prefill_job(path: JobPath, identity: Identity) -> Response:
        """Return a prefill job's progress."""
        require_admin(identity)
        job = node.jobs.get(path.job_id)
        if job is None:
            raise NotFound(f"no prefill job {path.job_id}")
        return json_response(job.as_dict())

    return router
