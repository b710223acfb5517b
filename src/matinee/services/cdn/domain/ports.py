"""What the node needs from the outside: the origin it fills from."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Origin", "OriginUnavailable"]


class OriginUnavailable(Exception):
    """The origin gave no usable answer: ``timed_out`` tells a 504 from a 502."""

    def __init__(self, detail: str, *, timed_out: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.timed_out = timed_out


class Origin(Protocol):
    """Where objects come from on a miss (media's origin store)."""

    async def fetch(self, asset_id: str, path: str) -> bytes | None:
        """Return the whole object, None if the origin has no such object.

        Raise :class:`OriginUnavailable` when the origin cannot answer.
        """
        ...
