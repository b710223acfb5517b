"""HTTP/1.1 wire helpers: status lines, the Date header, problem bodies, header blocks.

Everything here returns bytes ready for ``transport.write``; the tables are built
once so a response head costs a dict lookup and a join, not string formatting.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

import orjson

__all__ = [
    "HOP_BY_HOP",
    "PROBLEM_JSON",
    "date_line",
    "header_block",
    "problem_body",
    "reason",
    "status_line",
]

PROBLEM_JSON = b"application/problem+json"

# Hop-by-hop headers (RFC 9110 7.6.1): meaningful for one connection, never forwarded.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

_STATUS_LINES: dict[int, bytes] = {}
for _status in HTTPStatus:
    _STATUS_LINES[_status.value] = f"HTTP/1.1 {_status.value} {_status.phrase}\r\n".encode()


def reason(status: int) -> str:
    """Return the reason phrase of ``status`` ("Error" when unknown)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def status_line(status: int) -> bytes:
    """Return ``HTTP/1.1 <status> <reason>\\r\\n`` (cached)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} {reason(status)}\r\n".encode()
    return line


_date_second = 0
_date_cached = b""


def date_line() -> bytes:
    """Return ``date: <IMF-fixdate>\\r\\n`` for now, formatted at most once a second."""
    global _date_second, _date_cached
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_cached = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
    return _date_cached


def header_block(headers: Iterable[tuple[bytes | str, bytes | str]]) -> bytes:
    """Render ``(name, value)`` pairs as ``name: value\\r\\n`` lines."""
    parts = []
    for name, value in headers:
        parts.append(name.encode("latin-1") if isinstance(name, str) else name)
        parts.append(b": ")
        parts.append(value.encode("latin-1") if isinstance(value, str) else value)
        parts.append(b"\r\n")
    return b"".join(parts)


def problem_body(status: int, detail: str = "", **extensions: Any) -> bytes:
    """Return an RFC 9457 problem document for ``status``."""
    doc: dict[str, Any] = {"type": "about:blank", "title": reason(status), "status": status}
    if detail:
        doc["detail"] = detail
    doc.update(extensions)
    return orjson.dumps(doc)
