"""A served app: a fast-path handler in front of the chassis's ASGI app.

Services whose hot path is the product (the gateway, CDN nodes) answer most
requests in their handler and hand the rest (``/healthz``, ``/metrics``, admin
routes) to their chassis app through an :class:`AsgiBridge`. ``create_app`` returns
a ``ServedApp``; the runner sees its ``serve`` method and runs it instead of uvicorn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette

from matinee.platform.httpserver.asgi import AsgiBridge, Lifespan
from matinee.platform.httpserver.server import Handler, HttpServer, ServerLimits

__all__ = ["ServedApp"]


class ServedApp:
    """``handler`` first, ``asgi`` behind it; ``await serve(sock)`` runs both."""

    def __init__(
        self,
        handler: Handler,
        asgi: Starlette,
        bridge: AsgiBridge,
        limits: ServerLimits,
        *,
        on_loop: Callable[[asyncio.AbstractEventLoop], None] | None = None,
    ) -> None:
        self.handler = handler
        self.asgi = asgi
        self.limits = limits
        self._bridge = bridge
        self._on_loop = on_loop
        self._server: HttpServer | None = None
        self.started = asyncio.Event()

    async def serve(self, sock: Any, *, install_signals: bool = True) -> None:
        """Serve on a bound, listening socket until SIGTERM/SIGINT or :meth:`stop`."""
        lifespan = Lifespan(self.asgi)
        self._bridge.lifespan = lifespan
        self._bridge.server = sock.getsockname()[:2]
        if self._on_loop is not None:
            self._on_loop(asyncio.get_running_loop())
        server = self._server = HttpServer(self.handler, limits=self.limits)

        async def startup() -> None:
            await lifespan.startup()
            self.started.set()

        await server.serve(
            sock, startup=startup, cleanup=lifespan.shutdown, install_signals=install_signals
        )

    def stop(self) -> None:
        """Ask :meth:`serve` to drain and return."""
        if self._server is not None:
            self._server.stop()
