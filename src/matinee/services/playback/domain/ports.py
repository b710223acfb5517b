"""The ports playback's rules drive: its own tables, the CDN view, URL signing, events."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from matinee.services.playback.domain.model import Asset, Heartbeat, NodeState, Session

__all__ = ["Nodes", "PlaybackStore", "Publish", "Signer"]

# ``publish("started", {...})``: fire and forget; the adapter makes it a versioned event.
Publish = Callable[[str, Mapping[str, Any]], None]
# The CDN nodes as last seen: discovery plus cached ``/node`` reports; never does I/O.
Nodes = Callable[[], Sequence[NodeState]]


class Signer(Protocol):
    """Mints signed CDN paths (``platform.urlsign.UrlSigner`` is one)."""

    def path(self, asset_id: str, session_id: str, expires_at: float, name: str) -> str: ...


class PlaybackStore(Protocol):
    """Playback's own data: assets, title mappings, sessions with leases, positions, priors."""

    async def put_asset(self, asset: Asset) -> None:
        """Store (or replace) an asset media announced; map its title to it."""
        ...

    async def map_title(self, title_id: int, asset_id: str) -> None:
        """Point a title at an asset (catalog's ``asset_ref``)."""
        ...

    async def title_asset(self, title_id: int) -> tuple[str | None, Asset | None]:
        """Return the title's asset id (None: unknown title) and the asset if it is ready."""
        ...

    async def viewer_state(
        self, account_id: str, profile_id: str, title_id: int
    ) -> tuple[float | None, float | None]:
        """Return the last position on this title for the profile and the account's prior."""
        ...

    async def open_session(self, session: Session, *, max_streams: int, now: float) -> None:
        """Insert ``session`` if the account holds fewer than ``max_streams`` live leases.

        Counting and inserting are one atomic step across instances; raise
        StreamLimitReached otherwise. Leases past their expiry do not count.
        """
        ...

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
        """Renew the lease and record the beat; return the session before and after.

        A lease that lapsed is taken again if the plan still has room (StreamLimitReached
        if not); SessionNotFound for another account's or an unknown session; SessionEnded
        for a stopped one.
        """
        ...

    async def stop(
        self, account_id: str, session_id: str, position_s: float, *, now: float
    ) -> tuple[Session, bool]:
        """End the session, remember the position; return it and whether this call ended it."""
        ...

    async def expire(self, now: float) -> Sequence[Session]:
        """Mark every lease past its expiry expired; return the sessions this call expired."""
        ...
