"""Fakes for the node's unit tests: an origin in memory, a client connection, a node."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from matinee.platform.httpserver import Request
from matinee.platform.telemetry import Metrics
from matinee.platform.urlsign import UrlSigner
from matinee.services.cdn.api import Delivery
from matinee.services.cdn.domain import OriginUnavailable
from matinee.services.cdn.node import CdnNode, NodeIdentity
from matinee.services.cdn.storage import DiskCache
from tests.fakes_http import RecordingConnection

SECRET = "unit-url-secret"
SIGNER = UrlSigner(SECRET)


class FakeOrigin:
    """Objects in a dict; counts fetches; can fail, time out or hold fills at a gate."""

    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        self.objects = dict(objects or {})
        self.fetches: list[str] = []
        self.failure: OriginUnavailable | None = None
        self.gate: asyncio.Event | None = None

    async def fetch(self, asset_id: str, path: str) -> bytes | None:
        self.fetches.append(f"{asset_id}/{path}")
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        return self.objects.get(f"{asset_id}/{path}")


class FakeConnection(RecordingConnection):
    """A client connection that records whether the response finished or was cut."""

    def __init__(self) -> None:
        super().__init__(client="198.51.100.7")
        self.done = False
        self.aborted = False

    def response_done(self, request: Request) -> None:
        self.done = True

    def abort(self) -> None:
        self.aborted = True


class Local:
    """Stands in for the chassis app: records what it was handed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def handle(self, request: Request) -> None:
        self.seen.append(request.path)
        request.respond(200, b"", b"local")


def signed(asset: str, name: str, *, ttl: float = 600, session: str = "sess1") -> str:
    return SIGNER.path(asset, session, time.time() + ttl, name)


class World:
    """A node on a temp dir with a fake origin, and a way to send it requests."""

    def __init__(
        self,
        root: Path,
        objects: dict[str, bytes] | None = None,
        *,
        capacity: int = 1 << 30,
        small: int = 1024,
    ) -> None:
        self.root = root
        self.capacity = capacity
        self.small = small
        self.origin = FakeOrigin(objects)
        self.local = Local()
        self.start()

    def start(self) -> None:
        """(Re)build the node on the same cache directory, as a restart would."""
        self.cache = DiskCache(self.root, self.capacity, small_object_bytes=self.small)
        self.cache.start()
        self.node = CdnNode(NodeIdentity("cdn-1", "eu-west", "isp-a"), self.cache, self.origin)
        self.metrics = Metrics()
        self.delivery = Delivery(
            self.node, UrlSigner(SECRET), local=self.local, metrics=self.metrics
        )

    def send(
        self, method: str, target: str, headers: dict[str, str] | None = None
    ) -> tuple[Request, FakeConnection]:
        conn = FakeConnection()
        pairs = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        req = Request(conn, method, target.encode(), pairs, "1.1", True)  # type: ignore[arg-type]
        req.body_done = True
        self.delivery.handle(req)
        return req, conn

    async def get(
        self, target: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, dict[str, str], bytes]:
        _, conn = self.send(method, target, headers)
        for _ in range(200):
            if conn.done or conn.aborted:
                break
            await asyncio.sleep(0.005)
        return conn.response()
