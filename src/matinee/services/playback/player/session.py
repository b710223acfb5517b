"""The reference player: one playback session, downloaded for real, driven by an ABR rule.

It does what a real player does on the wire: start a session through the gateway,
read the master and media playlists from the first CDN URL, fetch init segments and
media segments (video and audio) over HTTP through a trace-following throttle,
heartbeat, stop. Playback itself is modelled: the buffer drains at ``speed`` media
seconds per wall second while playing; an empty buffer after the start is a stall.
A node that fails (refused, reset, an error status) is left for the next URL in
playback's failover list and the same object is fetched again there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
import orjson

from matinee.services.playback.domain.abr import (
    AbrAlgorithm,
    AbrInputs,
    DownloadResult,
    ThroughputSample,
    harmonic_mean_kbps,
)
from matinee.services.playback.player.hls import parse_master, parse_media
from matinee.services.playback.player.throttle import Throttle

__all__ = ["AllNodesFailed", "PlayRefused", "Player", "Qoe"]

_CHUNK = 64 * 1024


class PlayRefused(Exception):
    """Playback refused the start (unknown title, no asset, plan limit, ...)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class AllNodesFailed(Exception):
    """Every CDN node playback offered failed."""


class _NodeError(Exception):
    pass


@dataclass(slots=True)
class Qoe:
    """What the viewer experienced."""

    session_id: str = ""
    abr: str = ""
    segments: int = 0
    played_s: float = 0.0
    mean_bitrate_kbps: float = 0.0
    rebuffer_ratio: float = 0.0
    rebuffer_s: float = 0.0
    rebuffers: int = 0
    switches: int = 0
    startup_delay_s: float = 0.0
    first_bytes_ms: float = 0.0
    failovers: int = 0
    nodes: list[str] = field(default_factory=list)
    bytes: int = 0

    def lines(self) -> list[str]:
        """Return the QoE summary as printed."""
        return [
            f"QoE ({self.abr}, session {self.session_id}):",
            f"  mean bitrate     {self.mean_bitrate_kbps:,.0f} kbps over {self.segments}"
            f" segments ({self.played_s:.1f} s)",
            f"  rebuffer ratio   {self.rebuffer_ratio:.4f} ({self.rebuffers} stalls,"
            f" {self.rebuffer_s:.2f} s)",
            f"  switches         {self.switches}",
            f"  startup delay    {self.startup_delay_s * 1000:.0f} ms"
            f" (start -> first segment bytes {self.first_bytes_ms:.0f} ms)",
            f"  nodes            {' -> '.join(self.nodes)} ({self.failovers} failovers)",
        ]

    def to_json(self) -> dict[str, Any]:
        """Return the figures as a dict."""
        return asdict(self)


@dataclass(slots=True)
class _Track:
    playlist: str
    bandwidth_kbps: float
    height: int
    init: str | None
    segments: list[tuple[str, float]]
    sizes_bits: list[float]


class Player:
    """Plays one title through the gateway and the CDN."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        gateway: str,
        token: str,
        abr: AbrAlgorithm,
        *,
        throttle: Throttle | None = None,
        speed: float = 1.0,
        min_seconds: float = 0.0,
        buffer_cap_s: float = 25.0,
        say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.gateway = gateway.rstrip("/")
        self.auth = {"authorization": f"Bearer {token}"}
        self.abr = abr
        self.throttle = throttle or Throttle.unlimited()
        self.speed = speed
        self.min_seconds = min_seconds
        self.cap = buffer_cap_s
        self.say = say
        self.clock = clock
        self.qoe = Qoe(abr=getattr(abr, "name", type(abr).__name__))
        self._nodes: list[dict[str, str]] = []
        self._node = 0
        self._buffer = 0.0
        self._position = 0.0
        self._playing = False
        self._stalled = False
        self._bitrate = 0.0
        self._samples: list[ThroughputSample] = []
        self._errors: list[tuple[str, str]] = []
        self._session = ""
        self._beats: set[asyncio.Task[None]] = set()

    # -- the wire ---------------------------------------------------------------------

    async def _api(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.http.post(
            f"{self.gateway}{path}", json=body, headers=self.auth,
            timeout=aiohttp.ClientTimeout(total=10),
        ) as resp:  # fmt: skip
            raw = await resp.read()
        try:
            return resp.status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return resp.status, None

    def _base(self) -> str:
        url = self._nodes[self._node]["url"]
        return url.rsplit("/", 1)[0] + "/"

    async def _fetch_once(self, path: str, keep: bool) -> tuple[bytes, int, float, float, float]:
        start = self.clock()
        latency = await self.throttle.request_latency()
        first = 0.0
        size = 0
        parts: list[bytes] = []
        timeout = aiohttp.ClientTimeout(total=None, connect=2.0, sock_read=5.0)
        async with self.http.get(self._base() + path, timeout=timeout) as resp:
            if resp.status != 200:
                raise _NodeError(f"HTTP {resp.status} for {path}")
            async for chunk in resp.content.iter_chunked(_CHUNK):
                if not first:
                    first = self.clock()
                size += len(chunk)
                if keep:
                    parts.append(chunk)
                await self.throttle.consume(len(chunk))
        return b"".join(parts), size, self.clock() - start, latency, first or self.clock()

    async def _fetch(self, path: str, keep: bool = False) -> tuple[bytes, int, float, float, float]:
        """Fetch one object of the asset, moving to the next node when one fails."""
        while True:
            try:
                return await self._fetch_once(path, keep)
            except (aiohttp.ClientError, TimeoutError, _NodeError) as exc:
                self._fail_over(exc)

    def _fail_over(self, exc: BaseException) -> None:
        dead = self._nodes[self._node]["node_id"]
        self._errors.append((dead, f"{type(exc).__name__}: {exc}"[:300]))
        if self._node + 1 >= len(self._nodes):
            raise AllNodesFailed(f"every CDN node failed; the last ({dead}): {exc}") from exc
        self._node += 1
        nxt = self._nodes[self._node]["node_id"]
        self.qoe.failovers += 1
        self.qoe.nodes.append(nxt)
        self.say(f"node {dead} failed ({type(exc).__name__}); continuing on {nxt}")
        self._beat_soon()

    # -- the playout model --------------------------------------------------------------

    def _advance(self, wall_s: float) -> None:
        """Let ``wall_s`` seconds of wall time pass for the playout."""
        if not self._playing or wall_s <= 0:
            return
        media = wall_s * self.speed
        if self._buffer >= media:
            self._buffer -= media
            self._position += media
            return
        stall = (media - self._buffer) / self.speed
        self._position += self._buffer
        self._buffer = 0.0
        self.qoe.rebuffer_s += stall
        if not self._stalled:
            self._stalled = True
            self.qoe.rebuffers += 1
            self._beat_soon()

    async def _idle(self, seconds: float) -> None:
        if seconds <= 0:
            return
        started = self.clock()
        await asyncio.sleep(seconds)
        self._advance(self.clock() - started)

    # -- heartbeats -----------------------------------------------------------------------

    def _beat_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "position_s": round(self._position, 3),
            "buffer_s": round(self._buffer, 3),
            "bitrate_kbps": round(self._bitrate, 1),
            "rebuffers": self.qoe.rebuffers,
        }
        kbps = harmonic_mean_kbps(self._samples)
        if kbps > 0:
            body["throughput_kbps"] = round(kbps, 1)
        if self._errors:
            node, error = self._errors.pop(0)
            body.update(error=f"cdn node {node}: {error}"[:500], node_id=node[:128])
        return body

    async def _beat(self) -> None:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            status, body = await self._api(f"/api/playback/{self._session}/heartbeat",
                                           self._beat_body())  # fmt: skip
            if status >= 400:
                detail = body.get("detail") if isinstance(body, dict) else body
                self.say(f"heartbeat refused ({status}): {detail}")

    def _beat_soon(self) -> None:
        if not self._session:
            return
        task = asyncio.get_running_loop().create_task(self._beat())
        self._beats.add(task)
        task.add_done_callback(self._beats.discard)

    async def _heartbeats(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self._beat()

    # -- the session ----------------------------------------------------------------------

    async def _tracks(self, max_height: int) -> tuple[list[_Track], _Track | None]:
        master, *_ = await self._fetch("master.m3u8", keep=True)
        variants, audio_uri = parse_master(master.decode(), "")
        allowed = [v for v in variants if v.height <= max_height] or variants[:1]
        ladder: dict[str, Any] = {}
        with contextlib.suppress(Exception):
            raw, *_ = await self._fetch_once("ladder.json", keep=True)
            ladder = {r["playlist"]: r for r in orjson.loads(raw).get("rungs", [])}
        tracks = []
        for v in allowed:
            text, *_ = await self._fetch(v.uri, keep=True)
            media = parse_media(text.decode(), v.uri.rsplit("/", 1)[0] + "/")
            sizes = [float(s) * 8 for s in ladder.get(v.uri, {}).get("segment_sizes", [])]
            if len(sizes) != len(media.segments):
                sizes = [v.bandwidth * d for _, d in media.segments]
            tracks.append(_Track(v.uri, v.bandwidth / 1000.0, v.height, media.init,
                                 media.segments, sizes))  # fmt: skip
        audio = None
        if audio_uri:
            text, *_ = await self._fetch(audio_uri, keep=True)
            media = parse_media(text.decode(), audio_uri.rsplit("/", 1)[0] + "/")
            audio = _Track(audio_uri, 0.0, 0, media.init, media.segments, [])
        return tracks, audio

    async def play(
        self,
        title_id: int,
        profile_id: str,
        *,
        device: dict[str, Any] | None = None,
        region: str | None = None,
        throughput_kbps: float | None = None,
    ) -> Qoe:
        """Play ``title_id`` to the end (or ``min_seconds``); return the QoE."""
        clicked = self.clock()
        body: dict[str, Any] = {"title_id": title_id, "profile_id": profile_id,
                                "device": device or {"max_height": 2160,
                                                     "codecs": ["avc1", "mp4a"]}}  # fmt: skip
        if region:
            body["region"] = region
        if throughput_kbps:
            body["network"] = {"throughput_kbps": throughput_kbps}
        status, started = await self._api("/api/playback/start", body)
        if status != 201 or not isinstance(started, dict):
            detail = started.get("detail", "") if isinstance(started, dict) else str(started)
            raise PlayRefused(status, str(detail))
        self._session = self.qoe.session_id = started["session_id"]
        self._nodes = list(started["manifests"])
        if not self._nodes:
            raise AllNodesFailed("playback offered no CDN node")
        self.qoe.nodes.append(self._nodes[0]["node_id"])
        beats = asyncio.create_task(self._heartbeats(float(started["lease"]["heartbeat_every_s"])))
        try:
            await self._run(started, clicked)
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
            for task in list(self._beats):
                with contextlib.suppress(Exception):
                    await task
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await self._api(f"/api/playback/{self._session}/stop",
                                {"position_s": round(self._position, 3)})  # fmt: skip
        return self.qoe

    async def _run(self, started: dict[str, Any], clicked: float) -> None:
        tracks, audio = await self._tracks(int(started.get("max_height", 2160)))
        bitrates = [t.bandwidth_kbps for t in tracks]
        count = len(tracks[0].segments)
        durations = [d for _, d in tracks[0].segments]
        total_s = sum(durations)
        loops = 1
        if self.min_seconds > total_s > 0:
            loops = int(-(-self.min_seconds // total_s))
        order = [i for _ in range(loops) for i in range(count)]
        resume = float(started.get("resume_position_s", 0.0))
        if loops == 1 and resume > 0:
            skipped, acc = 0, 0.0
            while skipped < count - 1 and acc + durations[skipped] <= resume:
                acc += durations[skipped]
                skipped += 1
            order, self._position = order[skipped:], acc
        initial = float(started.get("initial_bitrate_kbps", 0.0))
        first_rung = max([i for i, b in enumerate(bitrates) if b <= initial] or [0])
        self.abr.reset()
        last: int | None = None
        inits: set[str] = set()
        played_kbps = 0.0
        for n, index in enumerate(order):
            seg_s = durations[index]
            await self._idle((self._buffer + seg_s - self.cap) / self.speed)
            inputs = AbrInputs(
                buffer_s=self._buffer, segment_duration_s=seg_s, bitrates_kbps=bitrates,
                next_segment_bits=[t.sizes_bits[index] for t in tracks],
                throughput=tuple(self._samples), last_rung=last, segment_index=n,
                segments_total=len(order), buffer_cap_s=self.cap,
                upcoming_segment_bits=[[t.sizes_bits[j] for t in tracks]
                                       for j in order[n + 1 : n + 6]],
            )  # fmt: skip
            rung = first_rung if last is None else self.abr.choose(inputs)
            if last is not None:
                wait = getattr(self.abr, "wait_s", lambda: 0.0)()
                await self._idle(wait / self.speed if wait else 0.0)
            track = tracks[rung]
            begun = self.clock()
            size = 0
            for init in (track.init, audio.init if audio else None):
                if init and init not in inits:
                    _, got, *_ = await self._fetch(init)
                    inits.add(init)
                    size += got
            _, got, seconds, latency, first_byte = await self._fetch(track.segments[index][0])
            size += got
            if n == 0:
                self.qoe.first_bytes_ms = (first_byte - clicked) * 1000
            if audio and index < len(audio.segments):
                _, got_audio, *_ = await self._fetch(audio.segments[index][0])
                size += got_audio
            elapsed = self.clock() - begun
            self._advance(elapsed)
            self._samples.append(ThroughputSample(got * 8.0, max(seconds - latency, 1e-6), latency))
            on_download = getattr(self.abr, "on_download", None)
            if on_download is not None:
                on_download(DownloadResult(rung, elapsed, self._buffer))
            self._buffer += seg_s
            self._stalled = False
            self.qoe.bytes += size
            if not self._playing:
                self._playing = True
                self.qoe.startup_delay_s = self.clock() - clicked
            if last is not None and rung != last:
                self.qoe.switches += 1
            switched = rung != last
            last = rung
            self._bitrate = bitrates[rung]
            if switched:
                self._beat_soon()
            played_kbps += bitrates[rung] * seg_s
            self.qoe.segments += 1
            self.qoe.played_s += seg_s
            self.say(
                f"segment {n + 1}/{len(order)}  {track.height}p {bitrates[rung]:,.0f} kbps"
                f"  from {self._nodes[self._node]['node_id']}  buffer {self._buffer:.1f} s"
            )
        # The rest of the buffer plays out with nothing left to fetch.
        self._position += self._buffer
        self._buffer = 0.0
        self.qoe.mean_bitrate_kbps = played_kbps / self.qoe.played_s if self.qoe.played_s else 0.0
        wall = self.qoe.played_s / self.speed + self.qoe.rebuffer_s
        self.qoe.rebuffer_ratio = self.qoe.rebuffer_s / wall if wall else 0.0
