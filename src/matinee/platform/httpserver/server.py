"""The server: an asyncio Protocol per connection, httptools parsing, plain callbacks.

A request reaches the handler as soon as its head is parsed; its body follows
through a sink the handler sets (or is buffered until it does). The handler
answers whenever it likes through the request: no coroutine, no task, no
framework layer sits between the socket and the handler. Pipelined requests
wait their turn, so responses always go out in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import httptools

from matinee.platform.httpserver.wire import PROBLEM_JSON, date_line, problem_body, status_line

__all__ = [
    "BodySink",
    "FlowListener",
    "Handler",
    "HttpConnection",
    "HttpServer",
    "Request",
    "ServerLimits",
]

log = logging.getLogger("matinee.httpserver")

_METHODS: dict[bytes, str] = {}
_CLOSE = b"connection: close\r\n"
_KEEP_ALIVE = b"connection: keep-alive\r\n"
_CHUNKED = b"transfer-encoding: chunked\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_PROBLEM_TYPE = b"content-type: " + PROBLEM_JSON + b"\r\n"
# Request headers that say a body follows (or how to receive it).
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"expect"})
# Above this many unconsumed body bytes per connection, stop reading from the socket.
_BODY_HIGH_WATER = 256 * 1024
# After answering before the body was read: how long and how much to read and discard.
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """What a client may send and how long it may idle."""

    max_header_bytes: int = 16 * 1024
    max_url_bytes: int = 8 * 1024
    # Seconds a connection may sit idle (or dribble a request head) before it is closed.
    idle_timeout: float = 30.0
    # Requests parsed ahead of the one being answered before reading pauses.
    max_pipelined: int = 16


class BodySink(Protocol):
    """Receives a request body as it arrives."""

    def on_body(self, data: bytes) -> None:
        """Take one chunk of the body."""
        ...

    def on_body_end(self) -> None:
        """Learn that the body is complete."""
        ...


class FlowListener(Protocol):
    """Told when the client cannot take more response bytes for now, and when it can."""

    def pause(self) -> None:
        """Stop producing response bytes."""
        ...

    def resume(self) -> None:
        """Produce response bytes again."""
        ...


class Handler(Protocol):
    """Answers requests: ``handle`` is called once the head is parsed, and must not block."""

    def handle(self, request: Request) -> None:
        """Start answering ``request`` (now or later, through its methods)."""
        ...


class Request:
    """One request and the means to answer it.

    ``path`` is the raw (percent-encoded) path, ``query`` the raw query without ``?``,
    ``headers`` a list of ``(lower-case name, value)`` byte pairs as received.
    """

    __slots__ = (
        "_buffered",
        "_buffered_size",
        "_chunked_out",
        "_conn",
        "_pending",
        "_sink",
        "body_done",
        "chunked",
        "client",
        "close_after",
        "content_length",
        "expect_continue",
        "finished",
        "flow",
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "on_disconnect",
        "path",
        "query",
        "started",
        "status",
        "target",
    )

    def __init__(
        self,
        conn: HttpConnection,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        http_version: str,
        keep_alive: bool,
    ) -> None:
        self._conn = conn
        self.method = method
        self.target = target
        path, _, query = target.partition(b"?")
        self.path = path.decode("latin-1")
        self.query = query
        self.headers = headers
        self.http_version = http_version
        self.keep_alive = keep_alive
        self.client = conn.client
        self.content_length: int | None = None
        self.chunked = False
        self.expect_continue = False
        self.body_done = False
        self.started = False
        self.finished = False
        self.close_after = False
        self.status = 0
        self._chunked_out = False
        # The head (and body parts) held back until flush() or end(): one write, not two.
        self._pending: list[bytes] | None = None
        self._sink: BodySink | None = None
        self._buffered: list[bytes] | None = None
        self._buffered_size = 0
        self.flow: FlowListener | None = None
        self.on_disconnect: Callable[[], None] | None = None

    @property
    def transport(self) -> asyncio.Transport | None:
        """Return the connection's transport (None if gone): for zero-copy file responses."""
        transport: asyncio.Transport | None = getattr(self._conn, "transport", None)
        return transport

    @property
    def has_body(self) -> bool:
        """Tell whether a body follows the head."""
        return self.chunked or bool(self.content_length)

    def header(self, name: bytes) -> bytes | None:
        """Return the first value of header ``name`` (lower-case bytes), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    # -- the body ---------------------------------------------------------------------

    def set_body_sink(self, sink: BodySink) -> None:
        """Send the body (what arrived so far, then the rest) to ``sink``."""
        self._sink = sink
        if self.expect_continue and not self.body_done and not self.started:
            self.expect_continue = False
            self._conn.write(_CONTINUE)
        buffered, self._buffered = self._buffered, None
        if buffered:
            self._conn.body_consumed(self._buffered_size)
            self._buffered_size = 0
            for chunk in buffered:
                sink.on_body(chunk)
        if self.body_done:
            sink.on_body_end()

    def pause_reading(self) -> None:
        """Stop reading from the client (the body's consumer is behind)."""
        self._conn.pause_reading()

    def resume_reading(self) -> None:
        """Read from the client again."""
        self._conn.resume_reading()

    def _feed(self, data: bytes) -> None:
        sink = self._sink
        if sink is not None:
            sink.on_body(data)
            return
        if self._buffered is None:
            self._buffered = []
        self._buffered.append(data)
        self._buffered_size += len(data)
        self._conn.body_buffered(len(data))

    def _end(self) -> None:
        self.body_done = True
        if self._sink is not None:
            self._sink.on_body_end()

    # -- the response -------------------------------------------------------------------

    def respond(self, status: int, headers: bytes = b"", body: bytes = b"") -> None:
        """Send a whole response: ``headers`` are ready ``name: value\\r\\n`` lines."""
        if self.started:
            raise RuntimeError("response already started")
        self.started = True
        self.status = status
        parts = [status_line(status), headers, b"content-length: %d\r\n" % len(body)]
        parts.append(self._connection_line())
        parts.append(b"\r\n")
        if body and self.method != "HEAD":
            parts.append(body)
        self._conn.write(b"".join(parts))
        self.finish()

    def respond_problem(
        self, status: int, detail: str = "", headers: bytes = b"", **extensions: Any
    ) -> None:
        """Send an ``application/problem+json`` response."""
        body = problem_body(status, detail, instance=self.path, **extensions)
        self.respond(status, _PROBLEM_TYPE + date_line() + headers, body)

    def start(self, status: int, headers: bytes = b"", length: int | None = None) -> None:
        """Begin the response; ``length`` None streams the body (chunked on HTTP/1.1).

        The head is held back until the first :meth:`flush` or :meth:`end`, so a head
        and a body that are ready together leave in one write (one syscall).
        """
        if self.started:
            raise RuntimeError("response already started")
        self.started = True
        self.status = status
        if length is not None:
            framing = b"content-length: %d\r\n" % length
        elif status in (204, 304) or status < 200:
            framing = b""
        elif self.http_version == "1.1":
            framing = _CHUNKED
            self._chunked_out = self.method != "HEAD"
        else:
            framing = b""
            self.close_after = True  # an HTTP/1.0 body without a length ends at close
        self._pending = [status_line(status), headers, framing, self._connection_line(), b"\r\n"]

    def write(self, data: bytes) -> None:
        """Send part of the body (held with the head until :meth:`flush` if not yet sent)."""
        if not data or self.method == "HEAD":
            return
        if self._chunked_out:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        pending = self._pending
        if pending is not None:
            pending.append(data)
        else:
            self._conn.write(data)

    def flush(self) -> None:
        """Send what is held back (call when no more bytes are ready for now)."""
        pending = self._pending
        if pending is not None:
            self._pending = None
            self._conn.write(b"".join(pending))

    def end(self) -> None:
        """Finish the response body."""
        pending = self._pending
        if pending is not None:
            self._pending = None
            if self._chunked_out:
                pending.append(_LAST_CHUNK)
            self._conn.write(b"".join(pending))
        elif self._chunked_out:
            self._conn.write(_LAST_CHUNK)
        self.finish()

    def finish(self) -> None:
        """Mark the response complete; the connection moves on to the next request."""
        if not self.finished:
            self.finished = True
            self._conn.response_done(self)

    def abort(self) -> None:
        """Give up mid-response: the client sees the connection close."""
        self.flush()
        if not self.finished:
            self.finished = True
            self._conn.abort()

    def _connection_line(self) -> bytes:
        conn = self._conn
        if self.close_after or not self.keep_alive or conn.closing or not self.body_done:
            # A body left unread cannot be skipped on a keep-alive connection: close it.
            self.close_after = True
            return _CLOSE
        return _KEEP_ALIVE if self.http_version == "1.0" else b""

    def _disconnected(self) -> None:
        self.finished = True
        callback = self.on_disconnect
        if callback is not None:
            self.on_disconnect = None
            callback()


class HttpConnection(asyncio.Protocol):
    """One client connection: parses requests, hands them over one at a time, in order."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._handler = server.handler
        self._limits = server.limits
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client = ""
        self.closing = False
        self.last_active = server.now
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._body_headers = False
        self._parsing: Request | None = None
        self.current: Request | None = None
        self._queue: deque[Request] = deque()
        self._unconsumed = 0
        self._reading_paused = False
        self._write_paused = False
        self._draining = False
        self._drained = 0

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if peer else ""
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self._server.connections.discard(self)
        current, self.current = self.current, None
        if current is not None and not current.finished:
            current._disconnected()
        self._queue.clear()

    def data_received(self, data: bytes) -> None:
        self.last_active = self._server.now
        if self._draining:
            self._drained += len(data)
            if self._drained > _LINGER_BYTES:
                self.abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(400, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, _HeadTooLarge):
                self._reject(cause.status, cause.detail)
            else:
                self._reject(400, "malformed HTTP request")

    def pause_writing(self) -> None:
        self._write_paused = True
        current = self.current
        if current is not None and current.flow is not None:
            current.flow.pause()

    def resume_writing(self) -> None:
        self._write_paused = False
        current = self.current
        if current is not None and current.flow is not None:
            current.flow.resume()

    # -- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        self._body_headers = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.max_url_bytes:
            raise _HeadTooLarge(414, "the URL is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self._limits.max_header_bytes:
            raise _HeadTooLarge(431, "the request headers are too large")
        name = name.lower()
        self._headers.append((name, value))
        if name in _BODY_HEADERS:
            self._body_headers = True

    def on_headers_complete(self) -> None:
        parser = self._parser
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method)
        if method is None:
            method = _METHODS.setdefault(raw_method, raw_method.decode("latin-1"))
        request = Request(
            self,
            method,
            self._url,
            self._headers,
            parser.get_http_version(),
            parser.should_keep_alive(),
        )
        # Most requests (GETs) have none of the body headers: skip the second pass over them.
        for name, value in request.headers if self._body_headers else ():
            if name == b"content-length":
                request.content_length = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                request.chunked = b"chunked" in value.lower()
            elif name == b"expect":
                request.expect_continue = value.lower() == b"100-continue"
        if not request.chunked and not request.content_length:
            request.body_done = True
        self._parsing = request
        if self.current is None:
            self.current = request
            self._dispatch(request)
        else:
            self._queue.append(request)
            if len(self._queue) >= self._limits.max_pipelined:
                self.pause_reading()

    def on_body(self, body: bytes) -> None:
        request = self._parsing
        if request is not None:
            request._feed(body)

    def on_message_complete(self) -> None:
        request, self._parsing = self._parsing, None
        if request is not None and not request.body_done:
            request._end()

    # -- used by Request ------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Write to the client unless the connection is gone."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def abort(self) -> None:
        """Close the connection now, dropping whatever is in flight."""
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def pause_reading(self) -> None:
        """Stop reading from the socket."""
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read from the socket again."""
        if self._reading_paused and self.transport is not None and not self.transport.is_closing():
            self._reading_paused = False
            self.transport.resume_reading()

    def body_buffered(self, size: int) -> None:
        """Count body bytes nobody consumed yet; pause reading above the high-water mark."""
        self._unconsumed += size
        if self._unconsumed > _BODY_HIGH_WATER:
            self.pause_reading()

    def body_consumed(self, size: int) -> None:
        """Uncount body bytes a sink took over."""
        self._unconsumed -= size
        if self._unconsumed <= _BODY_HIGH_WATER and len(self._queue) < self._limits.max_pipelined:
            self.resume_reading()

    def response_done(self, request: Request) -> None:
        """Move on after ``request`` was answered: next pipelined request, or close."""
        if request is not self.current:
            return
        self.current = None
        self.last_active = self._server.now
        if request._buffered_size:
            # A body nobody took (the answer came first) is dropped with its request.
            self._unconsumed -= request._buffered_size
            request._buffered = None
            request._buffered_size = 0
        if not request.body_done:
            self._linger()
            return
        if request.close_after or self.closing:
            self.abort()
            return
        if self._queue:
            following = self._queue.popleft()
            self.current = following
            self.resume_reading()
            self._dispatch(following)
        elif self._server.stopping:
            self.abort()

    def _linger(self) -> None:
        # Answered before the body was read (413, say): closing now would reset the
        # connection under the client's feet and lose the answer. Half-close, then read
        # and discard what the client still sends, for a short while only.
        self.closing = True
        self._draining = True
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.resume_reading()
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(_LINGER_SECONDS, self.abort)

    # -- internals ------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> None:
        try:
            self._handler.handle(request)
        except Exception:
            log.exception("handler failed on %s %s", request.method, request.path)
            if not request.started:
                request.close_after = True
                request.respond_problem(500, "unexpected error")
            else:
                request.abort()

    def _reject(self, status: int, detail: str) -> None:
        # The parser cannot resynchronise after an error: answer (in order) and close.
        self.closing = True
        if self.transport is None or self.transport.is_closing():
            return
        current = self.current
        if current is not None and not current.finished:
            # Earlier requests are still being answered; the bad one would come after them.
            self.abort()
            return
        body = problem_body(status, detail)
        self.transport.write(
            b"".join(
                (
                    status_line(status),
                    _PROBLEM_TYPE,
                    b"content-length: %d\r\n" % len(body),
                    _CLOSE,
                    b"\r\n",
                    body,
                )
            )
        )
        self.transport.close()


class _HeadTooLarge(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class HttpServer:
    """Accept connections on a socket and hand their requests to ``handler``.

    | usage | effect |
    |---|---|
    | ``server = HttpServer(handler)`` | nothing runs yet |
    | ``await server.start(sock)`` | accepts connections on a bound, listening socket |
    | ``await server.shutdown(grace=5)`` | stop accepting, finish in-flight, close the rest |
    | ``await server.serve(sock)`` | start, run until SIGTERM/SIGINT or ``stop()``, shut down |
    """

    def __init__(self, handler: Handler, *, limits: ServerLimits | None = None) -> None:
        self.handler = handler
        self.limits = limits or ServerLimits()
        self.connections: set[HttpConnection] = set()
        self.stopping = False
        # A coarse clock (refreshed every second) for idle bookkeeping, so that reading
        # a request costs no clock call.
        self.now = 0.0
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._stop = asyncio.Event()

    @property
    def port(self) -> int:
        """Return the port the server listens on (0 before start)."""
        sockets = getattr(self._server, "sockets", None)
        return int(sockets[0].getsockname()[1]) if sockets else 0

    async def start(self, sock: Any) -> None:
        """Start accepting connections on ``sock`` (bound and listening)."""
        loop = asyncio.get_running_loop()
        self.now = loop.time()
        self._server = await loop.create_server(lambda: HttpConnection(self), sock=sock)
        self._sweeper = loop.call_later(1.0, self._sweep)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self.now = now = loop.time()
        limit = self.limits.idle_timeout
        for conn in list(self.connections):
            if conn.current is None and now - conn.last_active > limit:
                conn.abort()
        self._sweeper = loop.call_later(1.0, self._sweep)

    def stop(self) -> None:
        """Ask :meth:`serve` to shut down and return."""
        self._stop.set()

    async def shutdown(self, grace: float = 5.0) -> None:
        """Stop accepting; let requests in flight finish for up to ``grace`` seconds."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if conn.current is None:
                conn.abort()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # Polling, not an event: finishing a request must not cost a check on the hot path.
        while any(c.current is not None for c in self.connections) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
        await asyncio.sleep(0)

    async def serve(
        self,
        sock: Any,
        *,
        startup: Callable[[], Any] | None = None,
        cleanup: Callable[[], Any] | None = None,
        grace: float = 5.0,
        install_signals: bool = True,
    ) -> None:
        """Run ``startup``, serve until stopped (SIGTERM, SIGINT, stop()), drain, ``cleanup``."""
        loop = asyncio.get_running_loop()
        if startup is not None:
            await startup()
        await self.start(sock)
        installed = []
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self.stop)
                    installed.append(sig)
        try:
            await self._stop.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            await self.shutdown(grace)
            if cleanup is not None:
                await cleanup()
