"""What the domain needs from the outside: catalog titles in stream order, viewing history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from matinee.services.search.domain.history import Viewing
from matinee.services.search.domain.model import TitleDoc
from matinee.services.search.domain.taste import Watched

__all__ = ["Apply", "TitleFeed", "WatchHistory"]

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


class WatchHistory(Protocol):
    """The profiles' viewing history, shared by every search instance."""

    async def record(self, fact: Viewing) -> bool:
        """Apply one playback fact; return False if its event id was applied before."""
        ...

    async def recent(self, account_id: str, profile_id: str, limit: int) -> list[Watched]:
        """Return the profile's rows, most recently watched first (none for a stranger)."""
        ...
