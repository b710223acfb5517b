"""File responses on the fast server: zero-copy ``sendfile(2)``, byte ranges, one burst.

The head is written with the socket corked (``TCP_CORK``, what nginx's ``tcp_nopush``
does), the body follows straight from the page cache with ``os.sendfile`` on the
connection's own socket, and uncorking sends head and body out together: no copy
through Python, no small head packet of its own. When the socket is full, the
sender waits for it on a duplicate of the socket's descriptor (the event loop
refuses to watch a descriptor a transport owns) and carries on where it stopped.

| usage | effect |
|---|---|
| ``send_file(request, 200, headers, fd, 0, size, done=release)`` | the whole file |
| ``send_file(request, 206, headers + content_range(a, b, size), fd, a, b - a)`` | a range |
| ``byte_range(request.header(b"range"), size)`` | ``(start, end)`` to send, None for all |
| ``except RangeNotSatisfiable`` | answer 416 with ``content-range: bytes */size`` |

``done(ok)`` is called exactly once, when the response was sent (True) or abandoned
(False); the caller closes ``fd`` then, not before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import Any

from matinee.platform.httpserver.server import Request

__all__ = ["RangeNotSatisfiable", "byte_range", "content_range", "send_file"]

_CORK = getattr(socket, "TCP_CORK", None)
# Below this, one read and one write (a copy) costs fewer syscalls than cork + sendfile.
_COPY_BELOW = 16 * 1024
Done = Callable[[bool], None]


class RangeNotSatisfiable(ValueError):
    """The Range header asks for bytes the file does not have (answer 416)."""


def byte_range(header: bytes | None, size: int) -> tuple[int, int] | None:
    """Return ``(start, end)`` (end exclusive) for a single-range header, None for the whole.

    Malformed and multi-range headers are ignored (RFC 9110 allows it: the whole file
    is sent); a well-formed range wholly past the end raises RangeNotSatisfiable.
    """
    if header is None:
        return None
    unit, _, spec = header.partition(b"=")
    if unit.strip().lower() != b"bytes" or b"," in spec:
        return None
    first, dash, last = spec.strip().partition(b"-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not first:
        if not last.isdigit():
            return None
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable("empty suffix range")
        return (max(0, size - suffix), size) if size else _unsatisfiable()
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range-spec: ignored, not refused
    end = int(last) + 1 if last else size
    if start >= size:
        raise RangeNotSatisfiable(f"range starts at {start}, the file has {size} bytes")
    return start, min(end, size)


def _unsatisfiable() -> tuple[int, int]:
    raise RangeNotSatisfiable("the file is empty")


def content_range(start: int, end: int, size: int) -> bytes:
    """Return the ``content-range`` header line of bytes ``[start, end)`` of ``size``."""
    return b"content-range: bytes %d-%d/%d\r\n" % (start, end - 1, size)


def send_file(
    request: Request,
    status: int,
    headers: bytes,
    fd: int,
    offset: int,
    count: int,
    *,
    done: Done | None = None,
    stall_timeout: float = 30.0,
) -> None:
    """Answer with ``count`` bytes of the open file ``fd`` from ``offset`` (zero-copy)."""
    request.start(status, headers, length=count)
    if request.method == "HEAD" or count == 0:
        request.end()
        _call(done, True)
        return
    transport = request.transport
    sock = None
    if transport is not None and not transport.is_closing() and count >= _COPY_BELOW:
        sock = transport.get_extra_info("socket")
    if sock is None or transport is None or transport.get_write_buffer_size():
        # No socket of our own to write to (tests' fake connections, a pipelined answer
        # still queued in the transport): copy, through the transport, in order.
        _copy(request, fd, offset, count, done)
        return
    _cork(sock, 1)
    request.flush()
    _FileSender(request, transport, sock, fd, offset, count, done, stall_timeout).run()


def _call(done: Done | None, ok: bool) -> None:
    if done is not None:
        done(ok)


def _cork(sock: Any, on: int) -> None:
    if _CORK is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _CORK, on)


def _copy(request: Request, fd: int, offset: int, count: int, done: Done | None) -> None:
    try:
        data = os.pread(fd, count, offset)
    except OSError:
        data = b""
    if len(data) < count:  # the file shrank under us: the promised length cannot be met
        request.abort()
        _call(done, False)
        return
    request.write(data)
    request.end()
    _call(done, True)


class _FileSender:
    """Sends the rest of one file over one connection, resuming whenever it can write."""

    __slots__ = (
        "done",
        "dup",
        "fd",
        "loop",
        "offset",
        "out",
        "progressed",
        "remaining",
        "request",
        "sock",
        "stall_timeout",
        "timer",
        "transport",
    )

    def __init__(
        self,
        request: Request,
        transport: asyncio.Transport,
        sock: Any,
        fd: int,
        offset: int,
        count: int,
        done: Done | None,
        stall_timeout: float,
    ) -> None:
        self.request = request
        self.transport = transport
        self.sock = sock
        self.out = sock.fileno()
        self.fd = fd
        self.offset = offset
        self.remaining = count
        self.done = done
        self.stall_timeout = stall_timeout
        self.dup = -1
        self.loop: asyncio.AbstractEventLoop | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.progressed = False

    def run(self) -> None:
        """Send until done or the socket is full (then wait for it to drain)."""
        if self.request.finished or self.transport.is_closing():
            self._close(False)
            return
        if self.transport.get_write_buffer_size():
            self._wait()  # the head itself is still queued: the body must come after it
            return
        out, fd = self.out, self.fd
        while self.remaining:
            try:
                sent = os.sendfile(out, fd, self.offset, self.remaining)
            except BlockingIOError:
                self._wait()
                return
            except OSError:
                self._fail()
                return
            if sent == 0:  # the file is shorter than the length announced
                self._fail()
                return
            self.offset += sent
            self.remaining -= sent
            self.progressed = True
        _cork(self.sock, 0)
        self._close(True)
        self.request.finish()

    def _wait(self) -> None:
        if self.dup >= 0:
            return
        loop = self.loop = asyncio.get_running_loop()
        try:
            self.dup = os.dup(self.out)
        except OSError:
            self._fail()
            return
        loop.add_writer(self.dup, self.run)
        self.request.on_disconnect = self._disconnected
        self.progressed = False
        self.timer = loop.call_later(self.stall_timeout, self._check_stall)

    def _check_stall(self) -> None:
        if self.progressed and self.loop is not None:
            self.progressed = False
            self.timer = self.loop.call_later(self.stall_timeout, self._check_stall)
            return
        self.timer = None
        self._fail()

    def _disconnected(self) -> None:
        self._close(False)

    def _fail(self) -> None:
        request = self.request
        self._close(False)
        if not request.finished:
            request.abort()

    def _close(self, ok: bool) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.dup >= 0:
            if self.loop is not None:
                self.loop.remove_writer(self.dup)
            os.close(self.dup)
            self.dup = -1
            self.request.on_disconnect = None
        done, self.done = self.done, None
        _call(done, ok)
