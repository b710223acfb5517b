"""Playback's use cases: start, heartbeat, stop, expire, over the ports in ``ports``.

The start path reads and writes only playback's own tables and an in-memory view
of the CDN nodes: catalog, media and users are not on it (DESIGN.md, the play path).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from matinee.services.playback.domain.model import (
    AssetNotReady,
    Heartbeat,
    Manifest,
    PlaybackError,
    Session,
    Started,
    StartRequest,
    StreamLimitReached,
    TitleNotFound,
)
from matinee.services.playback.domain.ports import Nodes, PlaybackStore, Publish, Signer
from matinee.services.playback.domain.rules import (
    allowed_ladder,
    initial_bitrate,
    plan_of,
    resume_at,
    steer,
)

__all__ = ["PlaybackPolicy", "PlaybackService"]


class PlaybackPolicy:
    """The tunables of playback: lease and URL lifetimes, where unknown clients are."""

    def __init__(
        self,
        *,
        lease_ttl_s: float = 60.0,
        heartbeat_every_s: float | None = None,
        url_ttl_s: float = 6 * 3600.0,
        default_region: str = "",
    ) -> None:
        if lease_ttl_s <= 0:
            raise ValueError("lease_ttl_s must be positive")
        self.lease_ttl_s = lease_ttl_s
        # Three beats fit in a lease: one lost beat never costs the stream.
        self.heartbeat_every_s = heartbeat_every_s or max(lease_ttl_s / 4, 0.5)
        self.url_ttl_s = url_ttl_s
        self.default_region = default_region


def _new_session_id() -> str:
    return secrets.token_urlsafe(16)


class PlaybackService:
    """Start sessions, keep their leases, and publish what happens to them."""

    def __init__(
        self,
        store: PlaybackStore,
        nodes: Nodes,
        signer: Signer,
        publish: Publish,
        *,
        policy: PlaybackPolicy | None = None,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = _new_session_id,
    ) -> None:
        self.store = store
        self.nodes = nodes
        self.signer = signer
        self.publish = publish
        self.policy = policy or PlaybackPolicy()
        self.clock = clock
        self.new_id = new_id

    async def start(self, req: StartRequest) -> Started:
        """Check entitlement, take a stream lease, steer, sign; raise a PlaybackError if not."""
        try:
            return await self._start(req)
        except PlaybackError as exc:
            self.publish("error", {
                "account_id": req.account_id, "profile_id": req.profile_id,
                "title_id": req.title_id, "code": type(exc).__name__, "detail": str(exc),
            })  # fmt: skip
            raise

    async def _start(self, req: StartRequest) -> Started:
        asset_id, asset = await self.store.title_asset(req.title_id)
        if asset_id is None:
            raise TitleNotFound(req.title_id)
        if asset is None:
            raise AssetNotReady(req.title_id, asset_id)
        plan = plan_of(req.plan)
        ladder = allowed_ladder(asset, req.device, plan)
        position, prior = await self.store.viewer_state(
            req.account_id, req.profile_id, asset.title_id
        )
        now = self.clock()
        session = Session(
            session_id=self.new_id(),
            account_id=req.account_id,
            profile_id=req.profile_id,
            title_id=req.title_id,
            asset_id=asset.asset_id,
            started_at=now,
            lease_expires_at=now + self.policy.lease_ttl_s,
            duration_s=asset.duration_s,
        )
        try:
            await self.store.open_session(session, max_streams=plan.max_streams, now=now)
        except StreamLimitReached as exc:
            raise StreamLimitReached(plan.name, exc.limit, exc.active) from None
        region = req.region or self.policy.default_region
        ranked = steer(self.nodes(), asset.asset_id, region=region, isp=req.isp)
        expires = now + self.policy.url_ttl_s
        hls: list[Manifest] = []
        dash: list[Manifest] = []
        for node in ranked:
            for name, out in ((asset.hls, hls), (asset.dash, dash)):
                path = self.signer.path(asset.asset_id, session.session_id, expires, name)
                out.append(Manifest(node.node_id, node.region, node.url + path))
        first = initial_bitrate(ladder, req.throughput_kbps, prior)
        started = Started(
            session=session,
            asset=asset,
            manifests=tuple(hls),
            dash=tuple(dash),
            ladder=ladder,
            initial_bitrate_kbps=first,
            resume_position_s=resume_at(position, asset.duration_s),
            lease_ttl_s=self.policy.lease_ttl_s,
            heartbeat_every_s=self.policy.heartbeat_every_s,
            max_height=min(req.device.max_height, plan.max_height),
        )
        self.publish("started", {
            **self._ids(session), "nodes": [m.node_id for m in hls], "region": region,
            "initial_bitrate_kbps": first, "resume_position_s": started.resume_position_s,
            "plan": plan.name, "max_height": started.max_height, "duration_s": asset.duration_s,
        })  # fmt: skip
        return started

    async def heartbeat(
        self, account_id: str, plan_name: str, session_id: str, beat: Heartbeat
    ) -> Session:
        """Renew the lease, remember the position, publish rebuffers and switches."""
        plan = plan_of(plan_name)
        try:
            before, after = await self.store.renew(
                account_id, session_id, beat, now=self.clock(),
                ttl_s=self.policy.lease_ttl_s, max_streams=plan.max_streams,
            )  # fmt: skip
        except StreamLimitReached as exc:
            named = StreamLimitReached(plan.name, exc.limit, exc.active)
            self.publish("error", {"account_id": account_id, "session_id": session_id,
                                   "code": type(exc).__name__, "detail": str(named)})  # fmt: skip
            raise named from None
        ids = self._ids(after)
        if beat.rebuffers > before.rebuffers:
            fresh = beat.rebuffers - before.rebuffers
            self.publish("rebuffer", {**ids, "position_s": beat.position_s,
                                      "rebuffers": beat.rebuffers,
                                      "new_rebuffers": fresh})  # fmt: skip
        if (
            beat.bitrate_kbps > 0
            and before.bitrate_kbps > 0
            and (abs(beat.bitrate_kbps - before.bitrate_kbps) > 0.5)
        ):
            self.publish("bitrate_switched", {**ids, "position_s": beat.position_s,
                                              "from_kbps": before.bitrate_kbps,
                                              "to_kbps": beat.bitrate_kbps})  # fmt: skip
        if beat.error:
            self.publish("error", {**ids, "code": "player", "detail": beat.error,
                                   "node_id": beat.node_id})  # fmt: skip
        return after

    async def stop(self, account_id: str, session_id: str, position_s: float) -> Session:
        """End a session and free its lease; stopping twice is harmless."""
        session, ended_now = await self.store.stop(
            account_id, session_id, position_s, now=self.clock()
        )
        if ended_now:
            watched = max(0.0, self.clock() - session.started_at)
            self.publish("stopped", {**self._ids(session), "position_s": position_s,
                                     "reason": "stopped", "watched_s": watched,
                                     "duration_s": session.duration_s})  # fmt: skip
        return session

    async def expire_stale(self) -> int:
        """Expire every lease whose heartbeats stopped; publish one ``stopped`` each."""
        expired = await self.store.expire(self.clock())
        for session in expired:
            self.publish("stopped", {**self._ids(session), "position_s": session.position_s,
                                     "reason": "expired", "watched_s": 0.0,
                                     "duration_s": session.duration_s})  # fmt: skip
        return len(expired)

    @staticmethod
    def _ids(session: Session) -> dict[str, Any]:
        return {
            "session_id": session.session_id,
            "account_id": session.account_id,
            "profile_id": session.profile_id,
            "title_id": session.title_id,
            "asset_id": session.asset_id,
        }
