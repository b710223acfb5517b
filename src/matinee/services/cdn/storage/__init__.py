"""The node's adapters: its disk cache and the origin it fills from."""

from matinee.services.cdn.storage.cache import CachedObject, DiskCache
from matinee.services.cdn.storage.origin import MediaOrigin

__all__ = ["CachedObject", "DiskCache", "MediaOrigin"]
