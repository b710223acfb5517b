"""What the domain needs from the outside: a feed of catalog titles in stream order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from matinee.services.search.domain.model import TitleDoc

__all__ = ["Apply", "TitleFeed"]

# Called with titles in stream order and the stream position of the last one;
# ``caught_up`` is True once the feed has delivered everything the stream held.
Apply = Callable[[Sequence[TitleDoc], int, bool], Awaitable[None]]


class TitleFeed(Protocol):
    """Replays the catalog's title events after a position, then follows new ones."""

    async def run(self, after: int, apply: Apply) -> None:
        """Deliver every title event after stream position ``after``, forever."""
        ...

    async def check(self) -> None:
        """Raise unless the feed is connected; use for /readyz."""
        ...
