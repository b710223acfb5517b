"""A fast HTTP/1.1 server core: uvloop protocol callbacks, httptools parsing, no framework.

For the few processes whose hot path is the product (the gateway, a CDN node):
the handler sees each request as soon as its head is parsed and answers through
it, with no coroutine per request. Keep-alive, pipelining (answers in order),
streamed request and response bodies, head size limits, idle timeouts and a
graceful shutdown are the core's; anything else can go to an ASGI app.

| usage | effect |
|---|---|
| ``server = HttpServer(handler)`` | ``handler.handle(request)`` is called per request |
| ``request.respond(200, b"content-type: text/plain\\r\\n", b"hi")`` | a whole response |
| ``request.start(200, headers, length=None)``, ``.write(b)``, ``.end()`` | a streamed one |
| ``request.respond_problem(413, "body too large")`` | a problem+json answer |
| ``request.set_body_sink(sink)`` | the body goes to ``sink.on_body`` / ``on_body_end`` |
| ``AsgiBridge(app).handle(request)`` | answer through an ASGI app instead |
| ``await server.serve(sock, startup=lifespan.startup, cleanup=lifespan.shutdown)`` | run |
| ``UpstreamPool().host(h, p).take()`` | pooled keep-alive client connections (proxying) |
| ``send_file(request, 200, headers, fd, offset, count, done=close)`` | zero-copy file body |
"""

from matinee.platform.httpserver.app import ServedApp
from matinee.platform.httpserver.asgi import AsgiBridge, Lifespan
from matinee.platform.httpserver.files import (
    RangeNotSatisfiable,
    byte_range,
    content_range,
    send_file,
)
from matinee.platform.httpserver.server import (
    BodySink,
    FlowListener,
    Handler,
    HttpConnection,
    HttpServer,
    Request,
    ServerLimits,
)
from matinee.platform.httpserver.upstream import (
    UpstreamConnection,
    UpstreamHost,
    UpstreamListener,
    UpstreamPool,
)
from matinee.platform.httpserver.wire import (
    HOP_BY_HOP,
    PROBLEM_JSON,
    date_line,
    header_block,
    problem_body,
    status_line,
)

__all__ = [
    "HOP_BY_HOP",
    "PROBLEM_JSON",
    "AsgiBridge",
    "BodySink",
    "FlowListener",
    "Handler",
    "HttpConnection",
    "HttpServer",
    "Lifespan",
    "RangeNotSatisfiable",
    "Request",
    "ServedApp",
    "ServerLimits",
    "UpstreamConnection",
    "UpstreamHost",
    "UpstreamListener",
    "UpstreamPool",
    "byte_range",
    "content_range",
    "date_line",
    "header_block",
    "problem_body",
    "send_file",
    "status_line",
]
