"""Search's adapters: the catalog feed on JetStream (and an in-process one), viewing history."""

from matinee.services.search.storage.feed import JetStreamTitleFeed, parse_title
from matinee.services.search.storage.history import MIGRATIONS, SqlWatchHistory
from matinee.services.search.storage.memory import MemoryTitleFeed
from matinee.services.search.storage.viewing import follow_viewing, viewing_of

__all__ = [
    "MIGRATIONS",
    "JetStreamTitleFeed",
    "MemoryTitleFeed",
    "SqlWatchHistory",
    "follow_viewing",
    "parse_title",
    "viewing_of",
]
