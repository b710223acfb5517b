"""A fake encoder: writes what ffmpeg would (playlists, init and fMP4-shaped segments)."""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from matinee.services.media.domain import (
    Rendition,
    Rung,
    Segment,
    SourceInfo,
    TransientFailure,
    Unplayable,
)
from matinee.services.media.ffmpeg import Encoded


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


class FakeEncoder:
    """Probes every file as ``info``; fails the first ``fail_times`` encodes."""

    def __init__(self, info: SourceInfo | None = None, *, fail_times: int = 0) -> None:
        self.info = info or SourceInfo(640, 360, 9.0, 25.0, "h264", has_audio=True)
        self.fail_times = fail_times
        self.encodes = 0
        self.unplayable: str | None = None

    async def probe(self, path: Path) -> SourceInfo:
        if self.unplayable:
            raise Unplayable(self.unplayable)
        return self.info

    async def complexity(self, path: Path, info: SourceInfo) -> float:
        return 0.06

    async def encode(
        self,
        path: Path,
        info: SourceInfo,
        rungs: Sequence[Rung],
        out_dir: Path,
        on_progress: Callable[[float], Awaitable[None]] | None = None,
    ) -> Encoded:
        self.encodes += 1
        (out_dir / "240p").mkdir(parents=True, exist_ok=True)
        (out_dir / "240p" / "seg_1.m4s").write_bytes(b"partial")
        if self.encodes <= self.fail_times:
            raise TransientFailure("ffmpeg exited with 1")
        video = []
        for rung in rungs:
            video.append(self._write(out_dir, rung.name, "video", rung))
            if on_progress is not None:
                await on_progress(len(video) / len(rungs))
        audio = self._write(out_dir, "audio", "audio", None)
        return Encoded(video, audio, [])

    def _write(self, out: Path, name: str, kind: str, rung: Rung | None) -> Rendition:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "init.mp4").write_bytes(box(b"ftyp") + box(b"moov"))
        segments = []
        for n, duration in enumerate((4.0, 4.0, 1.0), start=1):
            data = box(b"moof") + box(b"mdat", bytes(1000 * n))
            (folder / f"seg_{n}.m4s").write_bytes(data)
            segments.append(Segment(f"{name}/seg_{n}.m4s", duration, len(data)))
        (folder / "index.m3u8").write_text("#EXTM3U\n")
        return Rendition(
            name=name, kind=kind, codec="avc1.4d401e" if rung else "mp4a.40.2",
            init=f"{name}/init.mp4", playlist=f"{name}/index.m3u8", segments=tuple(segments),
            target_kbps=rung.bitrate_kbps if rung else 128,
            width=rung.width if rung else 0, height=rung.height if rung else 0,
            frame_rate=25.0 if rung else 0.0, channels=0 if rung else 2,
            sample_rate=0 if rung else 48000,
        )  # fmt: skip
