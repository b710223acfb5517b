"""The origin port on media's client: a miss becomes ``GET /origin/<asset>/<path>``."""

from __future__ import annotations

from matinee.platform.http import CallFailed
from matinee.services.cdn.domain import OriginUnavailable
from matinee.services.media.client import MediaClient

__all__ = ["MediaOrigin"]


class MediaOrigin:
    """Fills from media's origin store through the resilient client."""

    def __init__(self, media: MediaClient) -> None:
        self._media = media

    async def fetch(self, asset_id: str, path: str) -> bytes | None:
        """Return the object's bytes, None when media has no such object."""
        try:
            response = await self._media.origin_object(asset_id, path)
        except CallFailed as exc:
            raise OriginUnavailable(str(exc), timed_out=exc.reason == "timeout") from None
        if response.status == 404:
            return None
        if response.status != 200:
            raise OriginUnavailable(f"origin answered {response.status}")
        return response.body
