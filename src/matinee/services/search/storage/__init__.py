"""Search's adapters: the catalog event feed on JetStream, and an in-process one."""

from matinee.services.search.storage.feed import JetStreamTitleFeed, parse_title
from matinee.services.search.storage.memory import MemoryTitleFeed

__all__ = ["JetStreamTitleFeed", "MemoryTitleFeed", "parse_title"]
