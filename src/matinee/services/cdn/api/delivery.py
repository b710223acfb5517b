"""Signed delivery on the fast server: ``GET|HEAD|OPTIONS /s/<token>/<asset>/<path>``.

The hot path is plain calls, no coroutine: parse the path, check it names an object
inside the cache, check the token (verified tokens are remembered until they
expire), find the object and answer: from memory in one write for small objects,
with zero-copy ``sendfile`` for the rest. A miss joins the object's single fill
flight and is answered when it lands. Everything outside ``/s/`` (``/node``, the
admin API, health, metrics) goes to the chassis app.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from functools import partial

from matinee.platform.httpserver import (
    Handler,
    RangeNotSatisfiable,
    Request,
    byte_range,
    content_range,
    date_line,
    send_file,
)
from matinee.platform.telemetry import Metrics
from matinee.platform.telemetry.metrics import Series
from matinee.platform.urlsign import UrlRejected, UrlSigner
from matinee.services.cdn.domain import OriginUnavailable, UnsafePath, object_key
from matinee.services.cdn.node import CdnNode
from matinee.services.cdn.storage import CachedObject

__all__ = ["Delivery", "cache_control", "content_type"]

log = logging.getLogger("matinee.cdn.delivery")

_CONTENT_TYPES = {
    ".m3u8": b"application/vnd.apple.mpegurl",
    ".mpd": b"application/dash+xml",
    ".m4s": b"video/iso.segment",
    ".mp4": b"video/mp4",
    ".jpg": b"image/jpeg",
    ".json": b"application/json",
}
# Segments never change (a new encode is a new asset id); playlists are kept short so
# that a re-published asset is picked up soon.
_IMMUTABLE = b"public, max-age=31536000, immutable"
_SHORT = b"public, max-age=10"
_PLAYLISTS = frozenset({".m3u8", ".mpd", ".json"})

# Signed URLs carry no cookies: any origin may read them (players on any site).
_CORS = (
    b"access-control-allow-origin: *\r\n"
    b"access-control-expose-headers: content-length, content-range, accept-ranges\r\n"
)
_PREFLIGHT = (
    _CORS + b"access-control-allow-methods: GET, HEAD, OPTIONS\r\n"
    b"access-control-allow-headers: range, if-range\r\n"
    b"access-control-max-age: 86400\r\n"
)
_HIT = b"x-cache: HIT\r\n"
_MISS = b"x-cache: MISS\r\n"
_ALLOW = b"allow: GET, HEAD, OPTIONS\r\n"
# The ``cache`` label of delivery metrics: answered from the cache, after a fill, or before
# any lookup (a preflight, a bad path, a refused token).
HIT, MISS, NONE = "hit", "miss", "none"
_LABEL = {HIT: (HIT,), MISS: (MISS,), NONE: (NONE,)}
_TOKENS_KEPT = 50_000


def content_type(key: str) -> bytes:
    """Return the media type of a cached object, from its name."""
    dot = key.rfind(".")
    suffix = key[dot:].lower() if dot > 0 else ""
    if suffix == ".mp4" and "/audio/" in key:
        return b"audio/mp4"
    return _CONTENT_TYPES.get(suffix, b"application/octet-stream")


def cache_control(key: str) -> bytes:
    """Return how long players and proxies may keep an object."""
    dot = key.rfind(".")
    return _SHORT if dot > 0 and key[dot:].lower() in _PLAYLISTS else _IMMUTABLE


class Delivery:
    """The node's :class:`Handler`: signed objects itself, everything else to ``local``."""

    def __init__(
        self,
        node: CdnNode,
        signer: UrlSigner,
        *,
        local: Handler,
        clock: Callable[[], float] = time.time,
        stall_timeout: float = 30.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.node = node
        self.signer = signer
        self.local = local
        self.clock = clock
        self.stall_timeout = stall_timeout
        self.meter = node.meter
        # (token, asset) -> expiry: one HMAC per token, not one per segment.
        self._tokens: dict[tuple[str, str], int] = {}
        self._node_line = b"x-cdn-node: %b\r\n" % node.identity.node_id.encode()
        metrics = metrics or Metrics()
        # Lock-free: every delivery runs on the event loop's thread.
        self._seconds = metrics.fast_histogram(
            "matinee_cdn_delivery_seconds",
            "Signed object requests, from request to the last byte handed to the kernel",
            ["cache", "code"],
        )
        self._bytes = metrics.fast_counter(
            "matinee_cdn_delivery_bytes_total", "Object bytes sent to players", ["cache"]
        )
        self._series: dict[tuple[str, int], Series] = {}

    def _count(self, cache: str, code: int, started: float, sent: int = 0) -> None:
        elapsed = time.perf_counter() - started
        series = self._series.get((cache, code))
        if series is None:
            series = self._series[cache, code] = self._seconds.child(cache, str(code))
        series.observe(elapsed)
        if sent:
            self._bytes.inc(_LABEL[cache], sent)

    def handle(self, request: Request) -> None:
        """Answer a signed object request, or pass the request on."""
        path = request.path
        if not path.startswith("/s/"):
            self.local.handle(request)
            return
        started = time.perf_counter()
        method = request.method
        if method == "OPTIONS":
            request.respond(204, _PREFLIGHT + date_line())
            self._count(NONE, 204, started)
            return
        if method != "GET" and method != "HEAD":
            request.respond_problem(405, "signed objects are read with GET or HEAD", _ALLOW + _CORS)
            self._count(NONE, 405, started)
            return
        token, _, rest = path[3:].partition("/")
        asset_id, _, object_path = rest.partition("/")
        try:
            key = object_key(asset_id, object_path)
        except UnsafePath:
            request.respond_problem(404, "no such object", _CORS)
            self._count(NONE, 404, started)
            return
        expires = self._tokens.get((token, asset_id))
        if expires is None or expires < self.clock():
            try:
                self._verify(token, asset_id)
            except UrlRejected as exc:
                request.respond_problem(403, str(exc), _CORS)
                self._count(NONE, 403, started)
                return
        self.meter.begin()
        obj = self.node.lookup(key)
        if obj is not None:
            self._serve(request, obj, HIT, started)
            return
        self._miss(request, key, asset_id, object_path, started)

    def _verify(self, token: str, asset_id: str) -> None:
        self.signer.verify(token, asset_id, self.clock())
        if len(self._tokens) >= _TOKENS_KEPT:
            self._tokens.clear()
        self._tokens[(token, asset_id)] = int(token.partition(".")[0], 16)

    def _miss(
        self, request: Request, key: str, asset_id: str, object_path: str, started: float
    ) -> None:
        flight = self.node.fill(key, asset_id, object_path)
        flight.add_done_callback(partial(self._filled, request, started))

    def _filled(
        self, request: Request, started: float, flight: asyncio.Future[CachedObject | None]
    ) -> None:
        if request.finished:  # the client left while the fill ran
            self.meter.end(0)
            self._count(MISS, 499, started)  # nginx's "client closed request"
            return
        try:
            obj = flight.result()
        except OriginUnavailable as exc:
            self.meter.end(0)
            status = 504 if exc.timed_out else 502
            request.respond_problem(status, f"cannot fill from the origin: {exc.detail}", _CORS)
            self._count(MISS, status, started)
            return
        except Exception as exc:  # the flight failed in a way nobody planned for
            log.error("fill failed for %s", request.path, exc_info=exc)
            self.meter.end(0)
            request.respond_problem(502, "cannot fill from the origin", _CORS)
            self._count(MISS, 502, started)
            return
        if obj is None:
            self.meter.end(0)
            request.respond_problem(404, "no such object", _CORS)
            self._count(MISS, 404, started)
            return
        self._serve(request, obj, MISS, started)

    def _serve(self, request: Request, obj: CachedObject, cache: str, started: float) -> None:
        head = obj.head
        if not head:
            head = obj.head = self._head(obj)
        size = obj.size
        rng_header = request.header(b"range")
        status = 200
        start, end = 0, size
        extra = b""
        if rng_header is not None:
            try:
                rng = byte_range(rng_header, size)
            except RangeNotSatisfiable:
                self.meter.end(0)
                unsatisfied = b"content-range: bytes */%d\r\n" % size
                request.respond_problem(416, "the range is past the end", _CORS + unsatisfied)
                self._count(cache, 416, started)
                return
            if rng is not None:
                status = 206
                start, end = rng
                extra = content_range(start, end, size)
        headers = head + date_line() + (_HIT if cache == HIT else _MISS) + extra
        body = obj.body
        count = end - start
        sent = 0 if request.method == "HEAD" else count
        if body is not None:
            request.respond(status, headers, body if status == 200 else body[start:end])
            self.meter.end(sent)
            self._count(cache, status, started, sent)
            return
        try:
            fd = os.open(obj.path, os.O_RDONLY)
        except OSError:
            # Gone from disk behind our back: forget it and fill it again.
            self.node.cache.forget(obj.key)
            asset_id, _, object_path = obj.key.partition("/")
            self._miss(request, obj.key, asset_id, object_path, started)
            return
        self.node.cache.pin(obj)
        send_file(
            request,
            status,
            headers,
            fd,
            start,
            count,
            done=partial(self._sent, obj, fd, sent, cache, status, started),
            stall_timeout=self.stall_timeout,
        )

    def _sent(
        self,
        obj: CachedObject,
        fd: int,
        count: int,
        cache: str,
        status: int,
        started: float,
        ok: bool,
    ) -> None:
        os.close(fd)
        self.node.cache.release(obj)
        self.meter.end(count if ok else 0)
        # A transfer cut short is counted as the client's (499), with what did go out.
        self._count(cache, status if ok else 499, started, count if ok else 0)

    def _head(self, obj: CachedObject) -> bytes:
        key = obj.key
        return b"".join(
            (
                b"content-type: %b\r\n" % content_type(key),
                b"cache-control: %b\r\n" % cache_control(key),
                b"accept-ranges: bytes\r\n",
                _CORS,
                self._node_line,
            )
        )
