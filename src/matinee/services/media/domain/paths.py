"""Path safety for the origin store: which relative paths may name an object.

A request path is checked twice: here, by its text (no ``..``, no absolute path,
no hidden or odd characters, nothing left percent-encoded), and by the store, by
where it really resolves on disk (symlinks). Either check alone would be enough
against today's layout; both keep tomorrow's bug from reaching outside the store.
"""

from __future__ import annotations

import re

__all__ = ["UnsafePath", "safe_parts"]

# Every object media writes has such a name: "720p", "seg_12.m4s", "master.m3u8".
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_MAX_DEPTH = 4


class UnsafePath(ValueError):
    """A path that does not name an object inside the store."""


def safe_parts(path: str) -> tuple[str, ...]:
    """Return the parts of a relative object path; raise :class:`UnsafePath` otherwise."""
    if not path or len(path) > 512:
        raise UnsafePath("empty or overlong path")
    if path.startswith("/") or "\\" in path or "\x00" in path or "%" in path:
        raise UnsafePath("absolute, backslashed or encoded path")
    parts = tuple(path.split("/"))
    if len(parts) > _MAX_DEPTH:
        raise UnsafePath("path too deep")
    for part in parts:
        if part in ("", ".", "..") or not _SEGMENT.match(part) or ".." in part:
            raise UnsafePath(f"bad path segment {part!r}")
    return parts
