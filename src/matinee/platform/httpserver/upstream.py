"""Keep-alive HTTP/1.1 connections to upstream servers, driven by callbacks.

A proxy takes an idle connection (no await: a list pop), writes a request head,
and gets the response back through an :class:`UpstreamListener` as it arrives,
so a response body streams to the client without being buffered. Only opening
a new connection runs a coroutine.

| usage | effect |
|---|---|
| ``pool = UpstreamPool()`` | one per process; ``await pool.close()`` at exit |
| ``host = pool.host("127.0.0.1", 8001)`` | the idle connections to one server (keep it) |
| ``conn = host.take()`` | an idle connection, or None |
| ``host.connect(lambda conn, exc: ...)`` | open a new one (a task), then call back |
| ``conn.send(head_bytes, listener)`` | send a request; answers arrive on ``listener`` |
| ``conn.write(data)`` / ``conn.abort()`` | stream more request body / give up on it |
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Protocol, cast

import httptools

__all__ = ["UpstreamConnection", "UpstreamHost", "UpstreamListener", "UpstreamPool"]


class UpstreamListener(Protocol):
    """Gets one response from an upstream connection."""

    def on_upstream_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """The status and headers arrived (header names as sent)."""
        ...

    def on_upstream_body(self, data: bytes) -> None:
        """A piece of the body arrived."""
        ...

    def on_upstream_end(self) -> None:
        """The response is complete."""
        ...

    def on_upstream_error(self, exc: BaseException, got_head: bool) -> None:
        """The connection failed before the response was complete."""
        ...

    def on_upstream_writable(self, writable: bool) -> None:
        """The upstream stopped (False) or resumed (True) taking request body bytes."""
        ...

    def on_upstream_flush(self) -> None:
        """No more bytes of the answer are ready for now: pass on what is held back."""
        ...


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection to an upstream server, serving one request at a time."""

    def __init__(self, host: UpstreamHost) -> None:
        self._host = host
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.listener: UpstreamListener | None = None
        self.closed = False
        self.idle_since = 0.0
        self.got_head = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._framed = True
        # Set while reading a head that has a content-length or chunked transfer-encoding.
        self._length_seen = False
        self.request_done = True

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.listener is None:
            self.abort()  # bytes nobody asked for: the connection cannot be trusted
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)
            return
        listener = self.listener
        if listener is not None:
            listener.on_upstream_flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._host.forget(self)
        listener, self.listener = self.listener, None
        if listener is None:
            return
        if self.got_head and not self._framed:
            listener.on_upstream_end()  # a body without a length ends when the server closes
        else:
            listener.on_upstream_error(
                exc or ConnectionResetError("upstream closed"), self.got_head
            )

    def pause_writing(self) -> None:
        if self.listener is not None:
            self.listener.on_upstream_writable(False)

    def resume_writing(self) -> None:
        if self.listener is not None:
            self.listener.on_upstream_writable(True)

    # -- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        size = len(name)
        # Only two names matter for framing; their lengths (14, 17) rule out the rest cheaply.
        if size == 14 or size == 17:
            lower = name.lower()
            if lower == b"content-length" or (
                lower == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                self._length_seen = True

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            self._headers = []  # an interim answer (100 Continue): the real one follows
            self._length_seen = False
            return
        self.got_head = True
        headers = self._headers
        self._framed = self._length_seen or status in (204, 304)
        listener = self.listener
        if listener is not None:
            listener.on_upstream_head(status, headers)

    def on_body(self, body: bytes) -> None:
        listener = self.listener
        if listener is not None:
            listener.on_upstream_body(body)

    def on_message_complete(self) -> None:
        if not self.got_head:
            return
        listener, self.listener = self.listener, None
        reusable = self._parser.should_keep_alive() and self.request_done and self._framed
        if reusable:
            self._host.release(self)
        else:
            self.abort()
        if listener is not None:
            listener.on_upstream_end()

    # -- used by proxies ----------------------------------------------------------------

    def send(self, data: bytes, listener: UpstreamListener, *, request_done: bool = True) -> None:
        """Send a request (head, and body if ``request_done``); the answer goes to ``listener``."""
        self.listener = listener
        self.got_head = False
        self._headers = []
        self._length_seen = False
        self.request_done = request_done
        assert self.transport is not None
        self.transport.write(data)

    def write(self, data: bytes) -> None:
        """Send more of the request body."""
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def pause_reading(self) -> None:
        """Stop reading the response (the client is slow)."""
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read the response again."""
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def abort(self) -> None:
        """Close without telling the listener (its caller has given up)."""
        self.listener = None
        self.closed = True
        self._host.forget(self)
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: BaseException) -> None:
        listener, self.listener = self.listener, None
        self.closed = True
        self._host.forget(self)
        if self.transport is not None:
            self.transport.close()
        if listener is not None:
            listener.on_upstream_error(exc, self.got_head)


Connected = Callable[[UpstreamConnection | None, BaseException | None], None]


class UpstreamHost:
    """The idle keep-alive connections to one ``host:port``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        idle_timeout: float = 4.0,
        max_idle: int = 256,
        connect_timeout: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        # Below the keep-alive timeout of the upstream server (uvicorn: 5 s), so we never
        # send on a connection the server is about to close.
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self.connect_timeout = connect_timeout
        self._idle: list[UpstreamConnection] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.opened = 0

    def take(self) -> UpstreamConnection | None:
        """Return the most recently used idle connection, or None."""
        idle = self._idle
        if not idle:
            return None
        loop = self._loop or asyncio.get_running_loop()
        oldest_ok = loop.time() - self.idle_timeout
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.idle_since > oldest_ok:
                return conn
            conn.abort()
        return None

    def connect(self, done: Connected) -> None:
        """Open a new connection in a task; call ``done(conn, None)`` or ``done(None, exc)``."""
        loop = self._loop = self._loop or asyncio.get_running_loop()
        task = loop.create_task(self._connect(done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, done: Connected) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: UpstreamConnection(self), self.host, self.port
                )
        except (OSError, TimeoutError) as exc:
            done(None, exc)
            return
        self.opened += 1
        done(conn, None)

    def release(self, conn: UpstreamConnection) -> None:
        """Keep ``conn`` for reuse (or close it when enough are idle)."""
        if len(self._idle) >= self.max_idle:
            conn.abort()
            return
        loop = self._loop = self._loop or asyncio.get_running_loop()
        conn.idle_since = loop.time()
        self._idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        """Drop ``conn`` from the idle list (it closed)."""
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)

    @property
    def idle(self) -> int:
        """Return how many idle connections are kept."""
        return len(self._idle)

    def close(self) -> None:
        """Close every idle connection and cancel connects in progress."""
        for conn in list(self._idle):
            conn.abort()
        self._idle.clear()
        for task in self._tasks:
            task.cancel()


class UpstreamPool:
    """The :class:`UpstreamHost` of every upstream ``host:port`` this process talks to."""

    def __init__(
        self, *, idle_timeout: float = 4.0, max_idle: int = 256, connect_timeout: float = 1.0
    ) -> None:
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self.connect_timeout = connect_timeout
        self._hosts: dict[tuple[str, int], UpstreamHost] = {}

    def host(self, host: str, port: int) -> UpstreamHost:
        """Return (creating on first use) the connections to ``host:port``."""
        key = (host, port)
        found = self._hosts.get(key)
        if found is None:
            found = self._hosts[key] = UpstreamHost(
                host,
                port,
                idle_timeout=self.idle_timeout,
                max_idle=self.max_idle,
                connect_timeout=self.connect_timeout,
            )
        return found

    async def close(self) -> None:
        """Close every idle connection."""
        for host in self._hosts.values():
            host.close()
        self._hosts.clear()
        await asyncio.sleep(0)
