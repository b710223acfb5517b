"""Byte-capacity LRU bookkeeping: which cached objects to evict, and never one in use.

Pure accounting, no files: the cache tells it what it stored, served and removed,
and it answers with the keys to delete. An object being served is pinned; pinned
objects are skipped by eviction (the cache may then sit above capacity until they
are released, and the release evicts).

| call | effect |
|---|---|
| ``lru = ByteLru(capacity=10 << 30)`` | empty |
| ``victims = lru.add("a1/720p/seg_1.m4s", 3_000_000)`` | account it; delete ``victims`` |
| ``lru.touch(key)`` | mark it most recently used |
| ``lru.pin(key)`` / ``victims = lru.unpin(key)`` | protect it while it is served |
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["ByteLru"]


class ByteLru:
    """Object sizes in least-recently-used order under a byte capacity."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.used = 0
        self._sizes: OrderedDict[str, int] = OrderedDict()
        self._pins: dict[str, int] = {}
        # asset id -> how many of its objects are cached (the node's inventory).
        self._assets: dict[str, int] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)

    def size(self, key: str) -> int | None:
        """Return the accounted size of ``key``, None if it is not cached."""
        return self._sizes.get(key)

    def fits(self, size: int) -> bool:
        """Tell whether an object of ``size`` bytes may be cached at all."""
        return size <= self.capacity

    def assets(self) -> list[str]:
        """Return the asset ids with at least one cached object, sorted."""
        return sorted(self._assets)

    def keys(self) -> list[str]:
        """Return the cached keys, least recently used first."""
        return list(self._sizes)

    def touch(self, key: str) -> None:
        """Mark ``key`` as just used."""
        if key in self._sizes:
            self._sizes.move_to_end(key)

    def add(self, key: str, size: int) -> list[str]:
        """Account ``key`` at ``size`` bytes as most recent; return the keys to evict."""
        old = self._sizes.pop(key, None)
        if old is not None:
            self.used -= old
        else:
            asset = key.partition("/")[0]
            self._assets[asset] = self._assets.get(asset, 0) + 1
        self._sizes[key] = size
        self.used += size
        return self._evict(keep=key)

    def remove(self, key: str) -> bool:
        """Forget ``key`` (its file is gone); return whether it was cached."""
        size = self._sizes.pop(key, None)
        if size is None:
            return False
        self.used -= size
        self._pins.pop(key, None)
        asset = key.partition("/")[0]
        left = self._assets.get(asset, 1) - 1
        if left:
            self._assets[asset] = left
        else:
            self._assets.pop(asset, None)
        return True

    def pin(self, key: str) -> None:
        """Protect ``key`` from eviction until as many :meth:`unpin` calls."""
        self._pins[key] = self._pins.get(key, 0) + 1

    def unpin(self, key: str) -> list[str]:
        """Release one pin of ``key``; return keys to evict now that it may go."""
        count = self._pins.get(key, 0) - 1
        if count > 0:
            self._pins[key] = count
            return []
        self._pins.pop(key, None)
        return self._evict() if self.used > self.capacity else []

    def pinned(self, key: str) -> bool:
        """Tell whether ``key`` is being served."""
        return key in self._pins

    def _evict(self, keep: str | None = None) -> list[str]:
        if self.used <= self.capacity:
            return []
        victims: list[str] = []
        for key in list(self._sizes):
            if self.used <= self.capacity:
                break
            if key == keep or key in self._pins:
                continue
            self.remove(key)
            victims.append(key)
        return victims
