"""Playback routes: start a session, keep it alive, stop it (accounts only, via the edge)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from matinee.platform.api import Router, json_response
from matinee.platform.errors import Conflict, Forbidden, NotFound, ProblemError
from matinee.platform.identity import Identity
from matinee.services.playback.api.schemas import HeartbeatIn, SessionPath, StartIn, StopIn
from matinee.services.playback.domain.model import (
    AssetNotReady,
    Device,
    Heartbeat,
    Manifest,
    PlaybackError,
    Rung,
    SessionEnded,
    SessionNotFound,
    Started,
    StartRequest,
    StreamLimitReached,
    TitleNotFound,
)
from matinee.services.playback.domain.service import PlaybackService

__all__ = ["REGION_HEADER", "build_router", "started_json"]

# The gateway (or a client) may say where the viewer is; the body's ``region`` wins.
REGION_HEADER = "x-matinee-region"
ISP_HEADER = "x-matinee-isp"


def _problem(exc: PlaybackError) -> ProblemError:
    if isinstance(exc, TitleNotFound | SessionNotFound):
        return NotFound(str(exc))
    if isinstance(exc, AssetNotReady):
        return Conflict(str(exc), reason="no_asset")
    if isinstance(exc, StreamLimitReached):
        return Forbidden(str(exc), reason="stream_limit", plan=exc.plan, max_streams=exc.limit,
                         active_streams=exc.active)  # fmt: skip
    if isinstance(exc, SessionEnded):
        return Conflict(str(exc), reason="session_ended")
    return Conflict(str(exc))


def _account(identity: Identity) -> str:
    if identity.kind != "account" or not identity.account_id:
        raise Forbidden("playback is for signed-in accounts")
    return identity.account_id


def _rung(r: Rung) -> dict[str, Any]:
    return {"name": r.name, "width": r.width, "height": r.height,
            "bitrate_kbps": r.bitrate_kbps, "average_bitrate_kbps": r.average_bitrate_kbps,
            "codecs": r.codecs, "frame_rate": r.frame_rate}  # fmt: skip


def _manifest(m: Manifest) -> dict[str, str]:
    return {"node_id": m.node_id, "region": m.region, "url": m.url}


def started_json(s: Started) -> dict[str, Any]:
    """Return the body of a 201 answer to ``start``."""
    return {
        "session_id": s.session.session_id,
        "title_id": s.session.title_id,
        "asset_id": s.asset.asset_id,
        "duration_s": s.asset.duration_s,
        "manifests": [_manifest(m) for m in s.manifests],
        "dash": [_manifest(m) for m in s.dash],
        "ladder": [_rung(r) for r in s.ladder],
        "max_height": s.max_height,
        "initial_bitrate_kbps": s.initial_bitrate_kbps,
        "resume_position_s": s.resume_position_s,
        "lease": {"expires_in_s": s.lease_ttl_s, "heartbeat_every_s": s.heartbeat_every_s},
    }


def build_router(service: PlaybackService) -> Router:
    """Return playback's routes bound to its use cases."""
    router = Router(tags=["playback"])

    @router.post("/playback/start", body=StartIn, status=201, max_body=16_384)
    async def start(body: StartIn, identity: Identity, request: Request) -> Response:
        """Start a session: entitlement, a stream lease, steered and signed manifest URLs."""
        req = StartRequest(
            account_id=_account(identity),
            plan=identity.plan,
            profile_id=body.profile_id,
            title_id=body.title_id,
            device=Device(body.device.max_height, tuple(body.device.codecs)),
            throughput_kbps=body.network.throughput_kbps if body.network else None,
            region=body.region or request.headers.get(REGION_HEADER, "")[:64],
            isp=body.isp or request.headers.get(ISP_HEADER, "")[:64],
        )
        try:
            started = await service.start(req)
        except PlaybackError as exc:
            raise _problem(exc) from None
        return json_response(started_json(started), 201)

    @router.post(
        "/playback/{session}/heartbeat", path_model=SessionPath, body=HeartbeatIn, max_body=4096
    )
    async def heartbeat(path: SessionPath, body: HeartbeatIn, identity: Identity) -> Response:
        """Renew the session's stream lease and report position, buffer and bitrate."""
        beat = Heartbeat(
            position_s=body.position_s, buffer_s=body.buffer_s, bitrate_kbps=body.bitrate_kbps,
            rebuffers=body.rebuffers, throughput_kbps=body.throughput_kbps, error=body.error,
            node_id=body.node_id,
        )  # fmt: skip
        try:
            session = await service.heartbeat(_account(identity), identity.plan, path.session, beat)
        except PlaybackError as exc:
            raise _problem(exc) from None
        policy = service.policy
        return json_response({
            "session_id": session.session_id, "state": session.state,
            "lease": {"expires_in_s": policy.lease_ttl_s,
                      "heartbeat_every_s": policy.heartbeat_every_s},
        })  # fmt: skip

    @router.post("/playback/{session}/stop", path_model=SessionPath, body=StopIn, max_body=4096)
    async def stop(path: SessionPath, body: StopIn, identity: Identity) -> Response:
        """End the session and free its stream lease; the position is kept for resume."""
        try:
            session = await service.stop(_account(identity), path.session, body.position_s)
        except PlaybackError as exc:
            raise _problem(exc) from None
        return json_response(
            {
                "session_id": session.session_id,
                "state": session.state,
                "position_s": session.position_s,
            }
        )

    return router
