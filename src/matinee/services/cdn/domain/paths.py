"""Which request paths name a cacheable object: checked by text, before any disk access.

The cache stores ``<asset_id>/<object path>`` under its root; a path that could leave
the root (``..``, absolute, backslashes, anything percent-encoded, odd characters) is
refused here, and the store checks again where a path really resolves.
"""

from __future__ import annotations

import re

__all__ = ["ASSET_ID", "UnsafePath", "object_key"]

ASSET_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Names media writes: "720p", "seg_12.m4s", "master.m3u8", "ladder.json".
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_MAX_DEPTH = 4
_MAX_LENGTH = 512


class UnsafePath(ValueError):
    """A path that does not name an object inside the cache."""


def object_key(asset_id: str, path: str) -> str:
    """Return the cache key ``asset_id/path``; raise :class:`UnsafePath` if it is not safe."""
    if not ASSET_ID.match(asset_id):
        raise UnsafePath("bad asset id")
    if not path or len(path) > _MAX_LENGTH:
        raise UnsafePath("empty or overlong path")
    parts = path.split("/")
    if len(parts) > _MAX_DEPTH:
        raise UnsafePath("path too deep")
    for part in parts:
        # The pattern refuses "", ".", "%", "\\", NUL and any leading dot; ".." is refused
        # even inside a name so that no later join can ever climb out.
        if not _PART.match(part) or ".." in part:
            raise UnsafePath(f"bad path segment {part!r}")
    return f"{asset_id}/{path}"
