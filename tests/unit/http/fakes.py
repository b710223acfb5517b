"""Fakes for the resilient client: a resolver, a transport and a clock, all in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from matinee.platform.discovery import Instance, Status
from matinee.platform.http import Response

Handler = Callable[["Sent"], Awaitable[Response]]


def instance(n: int, status: Status = Status.UP, service: str = "catalog") -> Instance:
    """Return instance number ``n`` of ``service`` (port 9000 + n; never dialled)."""
    return Instance(service, f"{service}-{n}", "127.0.0.1", 9000 + n, status=status)


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeResolver:
    """Discovery's cache, as a list the test edits."""

    def __init__(self, *instances: Instance) -> None:
        self.list: list[Instance] = list(instances)

    def instances(self, service: str) -> Sequence[Instance]:
        return [i for i in self.list if i.service == service]


@dataclass
class Sent:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None
    timeout: float

    @property
    def port(self) -> int:
        return int(self.url.split(":")[2].split("/")[0])

    @property
    def instance_id(self) -> str:
        return f"catalog-{self.port - 9000}"


def answer(status: int = 200, body: bytes = b'{"ok": true}') -> Handler:
    """Answer every request with ``status``."""

    async def handler(sent: Sent) -> Response:
        return Response(status, {"content-type": "application/json"}, body)

    return handler


def refuse() -> Handler:
    """Fail every request as a refused connection."""

    async def handler(sent: Sent) -> Response:
        raise ConnectionRefusedError("refused")

    return handler


def hang(release: asyncio.Event | None = None) -> Handler:
    """Hold every request until ``release`` is set (forever without one), then answer 200."""

    async def handler(sent: Sent) -> Response:
        await (release or asyncio.Event()).wait()
        return Response(200, {}, b"{}")

    return handler


@dataclass
class FakeTransport:
    """Records what was sent; answers through a handler per instance port."""

    default: Handler = field(default_factory=answer)
    handlers: dict[int, Handler] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    def on(self, inst: Instance, handler: Handler) -> None:
        self.handlers[inst.port] = handler

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,  # noqa: ASYNC109
    ) -> Response:
        sent = Sent(method, url, dict(headers), body, timeout)
        self.sent.append(sent)
        return await self.handlers.get(sent.port, self.default)(sent)

    def count(self, inst: Instance) -> int:
        return sum(1 for s in self.sent if s.port == inst.port)
