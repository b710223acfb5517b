"""Run an ASGI app behind the fast server: for the requests a fast path does not take.

``AsgiBridge`` is a :class:`Handler` that serves each request through an ASGI app
in a task of its own; ``Lifespan`` runs the app's startup and shutdown. A server
whose handler answers most requests itself delegates the rest (health, metrics,
slower composite routes) to the bridge.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from matinee.platform.httpserver.server import Request
from matinee.platform.httpserver.wire import HOP_BY_HOP

__all__ = ["AsgiBridge", "Lifespan"]

log = logging.getLogger("matinee.httpserver")

ASGIApp = Callable[..., Any]
_ASGI = {"version": "3.0", "spec_version": "2.3"}
_SKIP_OUT = HOP_BY_HOP | {b"content-length"}


class _Body:
    """A request body as ASGI ``receive`` wants it: chunks, then the end."""

    __slots__ = ("_request", "_waiter", "chunks", "disconnected", "done", "final_sent")

    def __init__(self, request: Request) -> None:
        self._request = request
        self.chunks: deque[bytes] = deque()
        self.done = False
        self.disconnected = False
        self.final_sent = False
        self._waiter: asyncio.Future[None] | None = None

    def on_body(self, data: bytes) -> None:
        self.chunks.append(data)
        if len(self.chunks) > 8:
            self._request.pause_reading()
        self._wake()

    def on_body_end(self) -> None:
        self.done = True
        self._wake()

    def on_disconnect(self) -> None:
        self.disconnected = True
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        while not self.chunks and not self.done and not self.disconnected:
            self._waiter = loop.create_future()
            await self._waiter
        if self.chunks:
            chunk = self.chunks.popleft()
            if not self.chunks:
                self._request.resume_reading()
            more = bool(self.chunks) or not self.done
            self.final_sent = not more
            return {"type": "http.request", "body": chunk, "more_body": more}
        if not self.final_sent and not self.disconnected:
            self.final_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Past the body, ASGI apps wait for the disconnect: wait for it for real.
        while not self.disconnected:
            self._waiter = loop.create_future()
            await self._waiter
        return {"type": "http.disconnect"}


class AsgiBridge:
    """A :class:`Handler` that answers through an ASGI app.

    ``handle(request, scope_extra, headers=..., response_headers=...)`` merges
    ``scope_extra`` into the ASGI scope (e.g. a verified identity), gives the app
    ``headers`` instead of the request's own, and adds ``response_headers`` (ready
    ``name: value\r\n`` lines: the caller's outbound filters) to the response.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        lifespan: Lifespan | None = None,
        server: tuple[str, int] = ("127.0.0.1", 0),
    ) -> None:
        self.app = app
        self.lifespan = lifespan
        self.server = server
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(
        self,
        request: Request,
        scope_extra: Mapping[str, Any] | None = None,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        response_headers: bytes = b"",
    ) -> None:
        """Serve ``request`` through the app in a new task."""
        task = asyncio.get_running_loop().create_task(
            self._run(request, scope_extra, headers, response_headers)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self,
        request: Request,
        scope_extra: Mapping[str, Any] | None,
        headers: list[tuple[bytes, bytes]] | None,
        response_headers: bytes,
    ) -> None:
        path_raw = request.path.encode("latin-1")
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": request.http_version,
            "method": request.method,
            "scheme": "http",
            "path": _unquote(request.path),
            "raw_path": path_raw,
            "query_string": request.query,
            "root_path": "",
            "headers": request.headers if headers is None else headers,
            "client": (request.client, 0),
            "server": self.server,
        }
        if self.lifespan is not None:
            scope["state"] = dict(self.lifespan.state)
        if scope_extra:
            scope.update(scope_extra)
        body = _Body(request)
        request.on_disconnect = body.on_disconnect
        request.set_body_sink(body)
        pending: dict[str, Any] = {}

        async def send(message: dict[str, Any]) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                pending["status"] = message["status"]
                pending["headers"] = message.get("headers", ())
            elif kind == "http.response.body":
                if request.finished:
                    return
                chunk = message.get("body", b"")
                more = message.get("more_body", False)
                if not request.started:
                    _start(request, pending, chunk, more, response_headers)
                request.write(chunk)
                if more:
                    request.flush()
                else:
                    request.end()

        try:
            await self.app(scope, body.receive, send)
        except Exception:
            log.exception("ASGI app failed on %s %s", request.method, request.path)
            if not request.started:
                request.close_after = True
                request.respond_problem(500, "unexpected error")
            else:
                request.abort()
            return
        if not request.finished:
            if request.started:
                request.abort()
            else:
                request.respond_problem(500, "the app sent no response")


def _start(
    request: Request, pending: dict[str, Any], chunk: bytes, more: bool, extra: bytes
) -> None:
    length: int | None = None
    parts = []
    for name, value in pending.get("headers", ()):
        lower = name.lower()
        if lower == b"content-length":
            length = int(value)
        elif lower not in _SKIP_OUT:
            parts.append(b"%b: %b\r\n" % (name, value))
    if length is None and not more:
        length = len(chunk)
    parts.append(extra)
    request.start(int(pending.get("status", 500)), b"".join(parts), length)


def _unquote(path: str) -> str:
    if "%" not in path:
        return path
    from urllib.parse import unquote

    return unquote(path)


class Lifespan:
    """Run an ASGI app's lifespan: ``await startup()`` before serving, ``shutdown()`` after."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": _ASGI, "state": self.state}
        try:
            await self.app(scope, self._inbox.get, self._outbox.put)
        except Exception as exc:
            log.exception("lifespan failed")
            await self._outbox.put({"type": "lifespan.failed", "message": str(exc)})

    async def _exchange(self, kind: str) -> None:
        await self._inbox.put({"type": f"lifespan.{kind}"})
        reply = await self._outbox.get()
        if reply["type"] != f"lifespan.{kind}.complete":
            raise RuntimeError(f"lifespan {kind} failed: {reply.get('message', '')}")

    async def startup(self) -> None:
        """Run the app's startup; raise if it fails."""
        self._task = asyncio.get_running_loop().create_task(self._main())
        await self._exchange("startup")

    async def shutdown(self) -> None:
        """Run the app's shutdown and wait for the lifespan to end."""
        if self._task is None:
            return
        try:
            if not self._task.done():
                await self._exchange("shutdown")
        finally:
            await asyncio.wait({self._task}, timeout=5)
            self._task = None
