"""The edge's server core (platform/httpserver) on a real socket: framing a client relies on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from matinee.platform.httpserver import AsgiBridge, HttpServer, Lifespan, Request, ServerLimits
from matinee.runner import bind_socket


async def slow(request: StarletteRequest) -> PlainTextResponse:
    await asyncio.sleep(0.05)
    return PlainTextResponse("slow:" + (await request.body()).decode())


ASGI = Starlette(routes=[Route("/slow", slow, methods=["GET", "POST"])])


class Handler:
    """Answers /fast itself, sends everything else to the ASGI app."""

    def __init__(self) -> None:
        self.bridge = AsgiBridge(ASGI)

    def handle(self, request: Request) -> None:
        if request.path == "/fast":
            request.respond(200, b"content-type: text/plain\r\n", b"fast")
        else:
            self.bridge.handle(request)


@contextlib.asynccontextmanager
async def server() -> AsyncIterator[int]:
    lifespan = Lifespan(ASGI)
    handler = Handler()
    handler.bridge.lifespan = lifespan
    core = HttpServer(handler, limits=ServerLimits(max_header_bytes=2048))
    sock = bind_socket("127.0.0.1", 0)
    task = asyncio.create_task(
        core.serve(sock, startup=lifespan.startup, cleanup=lifespan.shutdown, install_signals=False)
    )
    while not core.port and not task.done():  # noqa: ASYNC110 - the port appears, no event
        await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        core.stop()
        await task
        sock.close()


async def exchange(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    data = b""
    while chunk := await asyncio.wait_for(reader.read(65536), 5):
        data += chunk
    writer.close()
    return data


async def test_pipelined_requests_are_answered_in_order():
    async with server() as port:
        data = await exchange(
            port,
            b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n"
            b"GET /fast HTTP/1.1\r\nhost: x\r\n\r\n"
            b"POST /slow HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhi"
            b"GET /fast HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
    bodies = [part.split(b"\r\n\r\n", 1)[1][:7] for part in data.split(b"HTTP/1.1 200 OK")[1:]]
    assert bodies == [b"slow:", b"fast", b"slow:hi", b"fast"]
    assert data.rstrip().endswith(b"fast")


async def test_oversized_heads_and_garbage_get_an_answer_then_close():
    async with server() as port:
        big = await exchange(port, b"GET /fast HTTP/1.1\r\nx-big: " + b"a" * 4000 + b"\r\n\r\n")
        assert big.startswith(b"HTTP/1.1 431 ")
        junk = await exchange(port, b"NOT HTTP AT ALL\r\n\r\n")
        assert junk.startswith(b"HTTP/1.1 400 ")
        assert b"application/problem+json" in junk


async def test_chunked_request_bodies_reach_the_app():
    async with server() as port:
        data = await exchange(
            port,
            b"POST /slow HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n"
            b"connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"slow:abcde")
