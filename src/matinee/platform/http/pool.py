"""``HttpPool``: the process's one HTTP connection pool (aiohttp, keep-alive).

| usage | effect |
|---|---|
| ``pool = HttpPool()`` | nothing opens until the first request (needs a running loop) |
| ``await pool.send("GET", url, headers={}, body=None, timeout=1.0)`` | a Response, any status |
| ``await pool.close()`` | close every kept-alive connection (in the app's lifespan exit) |

Late answers raise ``TimeoutError``; unreachable hosts and broken connections raise
:class:`TransportError` (a ``ConnectionError``). The resilient client turns both into
breaker failures and retries.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from matinee.platform.http._types import Response, TransportError

__all__ = ["HttpPool"]


class HttpPool:
    """Keep-alive connections shared by every client of the process; implements ``Transport``."""

    # aiohttp's total timeout bounds connect, headers and body: the client need not add its own.
    enforces_timeout = True

    def __init__(
        self,
        *,
        limit: int = 1024,
        limit_per_host: int = 256,
        keepalive_timeout: float = 30.0,
        connect_timeout: float | None = None,
        user_agent: str = "matinee",
    ) -> None:
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._keepalive_timeout = keepalive_timeout
        self._connect_timeout = connect_timeout
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        # One ClientTimeout per distinct timeout value, not one per request.
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    @property
    def closed(self) -> bool:
        """Tell whether :meth:`close` was called."""
        return self._closed

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("HttpPool is closed")
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=self._limit_per_host,
            keepalive_timeout=self._keepalive_timeout,
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self._user_agent},
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
            trust_env=False,
        )
        return self._session

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        ct = self._timeouts.get(seconds)
        if ct is None:
            if len(self._timeouts) > 64:  # callers computing timeouts must not grow this forever
                self._timeouts.clear()
            ct = self._timeouts[seconds] = aiohttp.ClientTimeout(
                total=seconds, connect=self._connect_timeout
            )
        return ct

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,  # noqa: ASYNC109 - the Transport port
    ) -> Response:
        """Send one request and read the whole answer."""
        session = self._session or self._open()
        try:
            async with session.request(
                method, url, headers=headers, data=body, timeout=self._timeout(timeout)
            ) as resp:
                payload = await resp.read()
                return Response(resp.status, resp.headers, payload)
        except TimeoutError:
            raise
        except Exception as exc:
            # Whatever broke the exchange (refused, reset, a malformed answer), the instance
            # gave no usable answer: one kind of failure for breakers and retries.
            raise TransportError(f"{method} {url}: {exc!r}") from exc

    async def close(self) -> None:
        """Close the pool and its connections; later sends raise ``RuntimeError``."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
