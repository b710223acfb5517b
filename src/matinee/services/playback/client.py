"""The typed client other services (and tools) use to call playback (DESIGN.md rule 2).

Calls carry the caller's identity (the resilient client forwards it), so playback
knows whose stream lease it is. None of these calls is idempotent: never retried.

| call | gives |
|---|---|
| ``await playback.start(title_id=1, profile_id="7", device={"max_height": 1080})`` | the 201 body |
| ``await playback.heartbeat(session_id, position_s=12.0, buffer_s=8.0)`` | the lease |
| ``await playback.stop(session_id, position_s=30.0)`` | the final state |
"""

from __future__ import annotations

from typing import Any

from matinee.platform.http import ResponseError, ServiceClient

__all__ = ["PlaybackClient", "ResponseError"]


class PlaybackClient:
    """Calls playback through the resilient client; error statuses raise ResponseError."""

    service = "playback"

    def __init__(self, http: ServiceClient) -> None:
        self._http = http

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._http.request("POST", path, json=body)
        response.raise_for_status()
        data = response.json()
        return data if isinstance(data, dict) else {}

    async def start(self, *, title_id: int, profile_id: str, **fields: Any) -> dict[str, Any]:
        """Start a session (device, network, region in ``fields``); return the 201 body."""
        return await self._post(
            "/playback/start", {"title_id": title_id, "profile_id": profile_id, **fields}
        )

    async def heartbeat(self, session_id: str, **fields: Any) -> dict[str, Any]:
        """Renew a session's lease with the player's position, buffer, bitrate, rebuffers."""
        return await self._post(f"/playback/{session_id}/heartbeat", fields)

    async def stop(self, session_id: str, position_s: float = 0.0) -> dict[str, Any]:
        """Stop a session at ``position_s``."""
        return await self._post(f"/playback/{session_id}/stop", {"position_s": position_s})
