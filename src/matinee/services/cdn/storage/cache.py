"""The node's cache on its own disk: whole objects or none, within a byte capacity.

Layout: ``<root>/<asset_id>/<object path>``, exactly the signed URL's tail, so a
cache survives a restart by walking the directory (the LRU order is rebuilt from
the files' modification times: fill order, a fair stand-in for use order).

A fill is written to ``<root>/.tmp/`` and renamed into place in one step, so no
reader ever sees part of an object; a failed fill leaves nothing behind. No fsync:
after a crash an object is whole or absent, and a lost one is simply filled again.
Small objects are also kept in memory, where answering them costs one write.

| call | does |
|---|---|
| ``cache = DiskCache(root, capacity_bytes=10 << 30)`` then ``cache.start()`` | rebuilt index |
| ``cache.get("a1/720p/seg_1.m4s")`` | a :class:`CachedObject` (now most recent), or None |
| ``await cache.store(key, body)`` | write it, evict as needed; the new object |
| ``cache.pin(obj)`` / ``cache.release(obj)`` | keep an object on disk while it is sent |
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
from pathlib import Path

from matinee.services.cdn.domain import ByteLru, UnsafePath, object_key

__all__ = ["CachedObject", "DiskCache"]

_TMP = ".tmp"


class CachedObject:
    """One object the node can serve: its file, size and (if small) its bytes."""

    __slots__ = ("body", "head", "key", "path", "size")

    def __init__(self, key: str, path: str, size: int, body: bytes | None = None) -> None:
        self.key = key
        # "" for an object too big to cache: served once from ``body``, never stored.
        self.path = path
        self.size = size
        self.body = body
        # Header lines the HTTP layer renders once per object.
        self.head = b""

    def __repr__(self) -> str:
        return f"<CachedObject {self.key} {self.size} bytes>"


class DiskCache:
    """Objects under ``root``, LRU-evicted above ``capacity_bytes``."""

    def __init__(
        self,
        root: Path,
        capacity_bytes: int,
        *,
        memory_bytes: int = 64 << 20,
        small_object_bytes: int = 64 << 10,
    ) -> None:
        self.root = Path(root).resolve()
        self.lru = ByteLru(capacity_bytes)
        self.memory_bytes = memory_bytes
        self.small_object_bytes = small_object_bytes
        self.memory_used = 0
        self._objects: dict[str, CachedObject] = {}
        self._root_prefix = str(self.root) + os.sep

    @property
    def capacity_bytes(self) -> int:
        """Return the byte capacity."""
        return self.lru.capacity

    @property
    def used_bytes(self) -> int:
        """Return the bytes of every cached object."""
        return self.lru.used

    def assets(self) -> list[str]:
        """Return the asset ids with at least one cached object."""
        return self.lru.assets()

    def healthy(self) -> bool:
        """Tell whether the cache directory is there and writable."""
        return os.access(self.root / _TMP, os.W_OK)

    def start(self) -> None:
        """Create the directories, drop stale partial fills, rebuild the index from disk."""
        tmp = self.root / _TMP
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True, exist_ok=True)
        found: list[tuple[int, str, str, int]] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            if dirpath == str(self.root):
                dirnames[:] = [d for d in dirnames if d != _TMP]
            for name in filenames:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, self.root).replace(os.sep, "/")
                asset, _, path = rel.partition("/")
                try:
                    key = object_key(asset, path)
                    st = os.stat(full, follow_symlinks=False)
                except (UnsafePath, OSError):
                    with contextlib.suppress(OSError):
                        os.unlink(full)  # not ours: a cache holds only what it can serve
                    continue
                if not os.path.isfile(full) or os.path.islink(full):
                    continue
                found.append((st.st_mtime_ns, key, full, st.st_size))
        found.sort()
        for _mtime, key, full, size in found:
            self._objects[key] = CachedObject(key, full, size)
            self._drop(self.lru.add(key, size))

    def get(self, key: str) -> CachedObject | None:
        """Return the cached object at ``key`` (marking it used), or None."""
        obj = self._objects.get(key)
        if obj is None:
            return None
        self.lru.touch(key)
        if obj.body is None and obj.size <= self.small_object_bytes:
            self._load_small(obj)
        return obj

    def _load_small(self, obj: CachedObject) -> None:
        if self.memory_used + obj.size > self.memory_bytes:
            return
        try:
            with open(obj.path, "rb") as file:
                body = file.read(obj.size + 1)
        except OSError:
            return
        if len(body) == obj.size:
            obj.body = body
            self.memory_used += obj.size

    def forget(self, key: str) -> None:
        """Drop ``key`` whose file turned out to be missing or unreadable."""
        if self.lru.remove(key):
            self._discard(key)

    def pin(self, obj: CachedObject) -> None:
        """Keep ``obj``'s file while it is being sent."""
        if obj.path:
            self.lru.pin(obj.key)

    def release(self, obj: CachedObject) -> None:
        """Undo one :meth:`pin`; evict if the cache is above capacity."""
        if obj.path:
            self._drop(self.lru.unpin(obj.key))

    async def store(self, key: str, body: bytes) -> CachedObject:
        """Write ``body`` as ``key`` (atomically) and account it; return the object."""
        size = len(body)
        small = body if size <= self.small_object_bytes else None
        if not self.lru.fits(size):
            return CachedObject(key, "", size, body)  # larger than the whole cache
        path = await asyncio.to_thread(self._write, key, body)
        old = self._objects.get(key)
        if old is not None and old.body is not None:
            self.memory_used -= old.size
        obj = CachedObject(key, path, size)
        if small is not None and self.memory_used + size <= self.memory_bytes:
            obj.body = small
            self.memory_used += size
        self._objects[key] = obj
        self._drop(self.lru.add(key, size))
        return obj

    def _write(self, key: str, body: bytes) -> str:
        target = os.path.join(self.root, *key.split("/"))
        parent = os.path.dirname(target)
        os.makedirs(parent, exist_ok=True)
        # Belt and braces after object_key(): the directory really lies inside the root.
        if not (os.path.realpath(parent) + os.sep).startswith(self._root_prefix):
            raise UnsafePath(f"{key!r} resolves outside the cache")
        tmp = os.path.join(self.root, _TMP, secrets.token_hex(8))
        try:
            with open(tmp, "wb") as file:
                file.write(body)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return target

    def _drop(self, victims: list[str]) -> None:
        for key in victims:
            obj = self._discard(key)
            if obj is not None and obj.path:
                with contextlib.suppress(OSError):
                    os.unlink(obj.path)

    def _discard(self, key: str) -> CachedObject | None:
        obj = self._objects.pop(key, None)
        if obj is not None and obj.body is not None:
            self.memory_used -= obj.size
        return obj
