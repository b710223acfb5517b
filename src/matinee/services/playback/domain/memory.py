"""An in-memory PlaybackStore: the fake unit tests pass to ``create_app``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from matinee.services.playback.domain.model import (
    Asset,
    Heartbeat,
    Session,
    SessionEnded,
    SessionNotFound,
    StreamLimitReached,
)
from matinee.services.playback.domain.rules import blend_prior

__all__ = ["InMemoryPlaybackStore"]


class InMemoryPlaybackStore:
    """Every table as a dict; one process only (the SQL store is the shared one)."""

    def __init__(self) -> None:
        self.assets: dict[str, Asset] = {}
        self.titles: dict[int, str] = {}
        self.sessions: dict[str, Session] = {}
        self.positions: dict[tuple[str, str, int], float] = {}
        self.priors: dict[str, float] = {}

    async def put_asset(self, asset: Asset) -> None:
        self.assets[asset.asset_id] = asset
        self.titles[asset.title_id] = asset.asset_id

    async def map_title(self, title_id: int, asset_id: str) -> None:
        self.titles[title_id] = asset_id

    async def title_asset(self, title_id: int) -> tuple[str | None, Asset | None]:
        asset_id = self.titles.get(title_id)
        return asset_id, self.assets.get(asset_id) if asset_id else None

    async def viewer_state(
        self, account_id: str, profile_id: str, title_id: int
    ) -> tuple[float | None, float | None]:
        return self.positions.get((account_id, profile_id, title_id)), self.priors.get(account_id)

    def _live(self, account_id: str, now: float, but: str = "") -> int:
        return sum(
            1
            for s in self.sessions.values()
            if s.account_id == account_id
            and s.state == "active"
            and s.lease_expires_at >= now
            and s.session_id != but
        )

    async def open_session(self, session: Session, *, max_streams: int, now: float) -> None:
        active = self._live(session.account_id, now)
        if active >= max_streams:
            raise StreamLimitReached("", max_streams, active)
        self.sessions[session.session_id] = session

    def _own(self, account_id: str, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None or session.account_id != account_id:
            raise SessionNotFound(session_id)
        return session

    async def renew(
        self,
        account_id: str,
        session_id: str,
        beat: Heartbeat,
        *,
        now: float,
        ttl_s: float,
        max_streams: int,
    ) -> tuple[Session, Session]:
        before = self._own(account_id, session_id)
        if before.state == "stopped":
            raise SessionEnded(session_id)
        lapsed = before.state != "active" or before.lease_expires_at < now
        if lapsed:
            active = self._live(account_id, now, but=session_id)
            if active >= max_streams:
                raise StreamLimitReached("", max_streams, active)
        after = dataclasses.replace(
            before,
            state="active",
            lease_expires_at=now + ttl_s,
            position_s=beat.position_s,
            bitrate_kbps=beat.bitrate_kbps or before.bitrate_kbps,
            rebuffers=max(beat.rebuffers, before.rebuffers),
        )
        self.sessions[session_id] = after
        self.positions[(account_id, before.profile_id, before.title_id)] = beat.position_s
        if beat.throughput_kbps:
            self.priors[account_id] = blend_prior(self.priors.get(account_id), beat.throughput_kbps)
        return before, after

    async def stop(
        self, account_id: str, session_id: str, position_s: float, *, now: float
    ) -> tuple[Session, bool]:
        session = self._own(account_id, session_id)
        if session.state == "stopped":
            return session, False
        session = dataclasses.replace(
            session, state="stopped", position_s=position_s, lease_expires_at=now
        )
        self.sessions[session_id] = session
        self.positions[(account_id, session.profile_id, session.title_id)] = position_s
        return session, True

    async def expire(self, now: float) -> Sequence[Session]:
        out = []
        for sid, s in list(self.sessions.items()):
            if s.state == "active" and s.lease_expires_at < now:
                self.sessions[sid] = dataclasses.replace(s, state="expired")
                out.append(self.sessions[sid])
        return out
