"""ffmpeg as media's encoder: find it, probe a source, measure complexity, encode a ladder.

The binary is the system's ``ffmpeg`` when there is one, else the static build
inside the ``imageio-ffmpeg`` wheel, so ``make run`` needs no apt. That build has
no ``ffprobe``, so probing parses what ``ffmpeg -i`` prints about the input (its
``Duration:`` and ``Stream #`` lines; stable across ffmpeg 4 to 7), and a short
constant-quality encode both proves that frames really decode and measures how
hard the picture is to compress (bits per pixel), which scales the ladder.

| call | gives |
|---|---|
| ``ff = Ffmpeg.locate(settings.ffmpeg)`` | the binary to run |
| ``await ff.probe(path)`` | :class:`SourceInfo`, or :class:`Unplayable` |
| ``await ff.complexity(path, info)`` | bits per pixel of a CRF probe encode |
| ``await ff.encode(path, info, rungs, out_dir, on_progress)`` | renditions + thumbnails |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from matinee.services.media.domain import (
    Rendition,
    Rung,
    Segment,
    SourceInfo,
    TransientFailure,
    Unplayable,
    parse_media_playlist,
)

__all__ = ["Encoded", "Ffmpeg", "find_ffmpeg"]

log = logging.getLogger("matinee.media.ffmpeg")

ProgressCallback = Callable[[float], Awaitable[None]]

_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (.*)$", re.MULTILINE)
_SIZE = re.compile(r"(?:^|[ ,])(\d{2,5})x(\d{2,5})(?:[ ,]|$)")
_FPS = re.compile(r"([\d.]+)(k?) (?:fps|tbr)")
_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "7.1": 8}
_AUDIO_KBPS = 128
_PROBE_SECONDS = 6
_PROBE_HEIGHT = 360
_THUMB_WIDTH = 320


def find_ffmpeg(override: str | None = None) -> str:
    """Return the ffmpeg to run: the override, the system's, or imageio-ffmpeg's."""
    if override:
        return override
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise RuntimeError("no ffmpeg: install ffmpeg or the imageio-ffmpeg package") from exc
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def parse_probe(text: str) -> SourceInfo:
    """Return what ``ffmpeg -i`` printed about an input; raise Unplayable if it is none."""
    if "Input #0" not in text:
        reason = _last_error(text) or "not a media file ffmpeg can read"
        raise Unplayable(f"cannot read the file: {reason}")
    video = audio = None
    for kind, desc in _STREAM.findall(text):
        if kind == "Video" and video is None and "attached pic" not in desc:
            video = desc
        elif kind == "Audio" and audio is None:
            audio = desc
    if video is None:
        raise Unplayable("the file has no video stream")
    size = _SIZE.search(video)
    if size is None:
        raise Unplayable("the video stream has no frame size")
    fps = 0.0
    for value, kilo in _FPS.findall(video):
        fps = float(value) * (1000 if kilo else 1)
        break
    match = _DURATION.search(text)
    duration = 0.0
    if match:
        h, m, s = match.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    channels = 0
    if audio is not None:
        channels = next((n for name, n in _CHANNELS.items() if f", {name}" in audio), 2)
    return SourceInfo(
        width=int(size.group(1)),
        height=int(size.group(2)),
        duration_s=duration,
        frame_rate=fps if 1 <= fps <= 240 else 25.0,
        video_codec=video.split(" ", 1)[0].strip(","),
        has_audio=audio is not None,
        audio_codec=audio.split(" ", 1)[0].strip(",") if audio else "",
        audio_channels=channels,
    )


def _last_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if "output file" in line.lower():  # "At least one output file must be specified"
            continue
        # "path: Invalid data found when processing input" -> keep the reason, not the path.
        return line.rsplit(": ", 1)[-1][:200]
    return ""


def avc_codec_string(init_segment: bytes) -> str:
    """Return the RFC 6381 codec of an H.264 init segment (``avc1.PPCCLL``)."""
    at = init_segment.find(b"avcC")
    if at < 0 or at + 8 > len(init_segment):
        return "avc1.64001f"
    profile, compat, level = init_segment[at + 5], init_segment[at + 6], init_segment[at + 7]
    return f"avc1.{profile:02x}{compat:02x}{level:02x}"


def box_types(data: bytes) -> list[str]:
    """Return the top-level ISO-BMFF box types of ``data`` (ftyp, moov, moof, mdat, ...)."""
    out, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1 and offset + 16 <= len(data):
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        if size < 8:
            break
        out.append(kind.decode("latin-1"))
        offset += size
    return out


@dataclass(frozen=True, slots=True)
class Encoded:
    """What an encode wrote under its output directory."""

    video: list[Rendition]
    audio: Rendition | None
    thumbnails: list[dict[str, object]]


class Ffmpeg:
    """Runs one ffmpeg binary as a subprocess (never in the event loop's thread)."""

    def __init__(self, binary: str, *, segment_seconds: float = 4.0, threads: int = 0) -> None:
        self.binary = binary
        self.segment_seconds = segment_seconds
        self.threads = threads

    @classmethod
    def locate(cls, override: str | None = None, **options: float) -> Ffmpeg:
        """Return an encoder on the ffmpeg :func:`find_ffmpeg` picks."""
        return cls(find_ffmpeg(override), **options)  # type: ignore[arg-type]

    async def _run(
        self, args: Sequence[str], *, on_line: Callable[[str], Awaitable[None]] | None = None
    ) -> tuple[int, bytes, str]:
        proc = await asyncio.create_subprocess_exec(
            self.binary, "-hide_banner", "-nostdin", *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        stderr_task = asyncio.create_task(proc.stderr.read())
        chunks: list[bytes] = []
        try:
            if on_line is None:
                chunks.append(await proc.stdout.read())
            else:
                async for raw in proc.stdout:
                    await on_line(raw.decode("utf-8", "replace").strip())
            code = await proc.wait()
        except BaseException:
            # Cancelled (shutdown) or a callback failed: never leave ffmpeg running.
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            stderr_task.cancel()
            raise
        stderr = (await stderr_task).decode("utf-8", "replace")
        return code, b"".join(chunks), stderr

    async def probe(self, path: Path) -> SourceInfo:
        """Return the source's streams and duration; raise Unplayable for what cannot play."""
        _code, _out, text = await self._run(["-i", str(path)])
        return parse_probe(text)

    async def complexity(self, path: Path, info: SourceInfo) -> float:
        """Return the bits per pixel of a short CRF encode; raise Unplayable if nothing decodes."""
        height = min(_PROBE_HEIGHT, info.height - info.height % 2)
        args = [
            "-v", "error", "-t", str(_PROBE_SECONDS), "-i", str(path),
            "-map", "0:v:0", "-an", "-vf", f"scale=-2:{height}", "-pix_fmt", "yuv420p",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "26",
            "-progress", "pipe:2", "-f", "h264", "pipe:1",
        ]  # fmt: skip
        code, out, text = await self._run(args)
        frames = [int(m) for m in re.findall(r"^frame=(\d+)", text, re.MULTILINE)]
        decoded = frames[-1] if frames else 0
        if code != 0 or decoded == 0 or not out:
            errors = [ln for ln in text.splitlines() if "=" not in ln and ln.strip()]
            reason = errors[-1][:200] if errors else "no frame decodes"
            raise Unplayable(f"the video does not decode: {reason}")
        width = round(info.width * height / info.height / 2) * 2
        return len(out) * 8 / (width * height * decoded)

    async def encode(
        self,
        path: Path,
        info: SourceInfo,
        rungs: Sequence[Rung],
        out_dir: Path,
        on_progress: ProgressCallback | None = None,
    ) -> Encoded:
        """Encode every rung, the audio and thumbnails into ``out_dir`` in one ffmpeg run."""
        seg = self.segment_seconds
        fps = info.frame_rate if info.frame_rate <= 60 else info.frame_rate / 2
        gop = max(1, round(fps * seg))
        thumb_every = seg
        names = [f"v{i}" for i in range(len(rungs))]
        graph = [f"[0:v]fps={fps:.6g},split={len(rungs) + 1}{''.join(f'[{n}]' for n in names)}[t]"]
        for name, rung in zip(names, rungs, strict=True):
            graph.append(f"[{name}]scale={rung.width}:{rung.height},setsar=1[{name}o]")
        graph.append(f"[t]fps=1/{thumb_every:g},scale='min({_THUMB_WIDTH},iw)':-2[to]")
        args = ["-y", "-i", str(path), "-filter_complex", ";".join(graph)]
        hls = [
            "-f", "hls", "-hls_time", f"{seg:g}", "-hls_playlist_type", "vod",
            "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
            "-start_number", "1",
        ]  # fmt: skip
        if self.threads:
            args += ["-threads", str(self.threads)]
        for name, rung in zip(names, rungs, strict=True):
            folder = out_dir / rung.name
            folder.mkdir(parents=True, exist_ok=True)
            kbps = rung.bitrate_kbps
            args += [
                "-map", f"[{name}o]", "-an", "-c:v", "libx264", "-preset", "veryfast",
                "-profile:v", rung.profile, "-pix_fmt", "yuv420p",
                "-b:v", f"{kbps}k", "-maxrate", f"{int(kbps * 1.5)}k",
                "-bufsize", f"{kbps * 2}k",
                # Keyframes on the segment grid, and nowhere else, in every rung: segment
                # n of one rung covers the same time as segment n of any other (ABR switches).
                "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
                "-force_key_frames", f"expr:gte(t,n_forced*{seg:g})",
                *hls, "-hls_segment_filename", str(folder / "seg_%d.m4s"),
                str(folder / "index.m3u8"),
            ]  # fmt: skip
        if info.has_audio:
            folder = out_dir / "audio"
            folder.mkdir(parents=True, exist_ok=True)
            args += [
                "-map", "0:a:0", "-vn", "-c:a", "aac", "-b:a", f"{_AUDIO_KBPS}k",
                "-ac", "2", "-ar", "48000",
                *hls, "-hls_segment_filename", str(folder / "seg_%d.m4s"),
                str(folder / "index.m3u8"),
            ]  # fmt: skip
        thumbs = out_dir / "thumbnails"
        thumbs.mkdir(parents=True, exist_ok=True)
        args += ["-map", "[to]", "-an", "-q:v", "5", str(thumbs / "thumb_%04d.jpg")]
        args += ["-v", "error", "-nostats", "-progress", "pipe:1"]

        async def on_line(line: str) -> None:
            if on_progress is not None and line.startswith("out_time_us=") and info.duration_s:
                with contextlib.suppress(ValueError):
                    done = int(line.split("=", 1)[1]) / 1e6
                    await on_progress(min(1.0, max(0.0, done / info.duration_s)))

        code, _out, text = await self._run(args, on_line=on_line)
        if code != 0:
            raise TransientFailure(f"ffmpeg exited with {code}: {text.strip()[-300:]}")
        video = [self._rendition(out_dir, r.name, "video", rung=r, fps=fps) for r in rungs]
        audio = self._rendition(out_dir, "audio", "audio") if info.has_audio else None
        thumbnails = [
            {"uri": f"thumbnails/{p.name}", "time_s": round(i * thumb_every, 3)}
            for i, p in enumerate(sorted(thumbs.glob("thumb_*.jpg")))
        ]
        if thumbnails:
            middle = thumbs / str(thumbnails[len(thumbnails) // 2]["uri"]).split("/")[-1]
            shutil.copyfile(middle, thumbs / "poster.jpg")
        return Encoded(video, audio, thumbnails)

    def _rendition(
        self, out_dir: Path, name: str, kind: str, *, rung: Rung | None = None, fps: float = 0.0
    ) -> Rendition:
        folder = out_dir / name
        playlist = folder / "index.m3u8"
        if not playlist.is_file():
            raise TransientFailure(f"ffmpeg wrote no playlist for {name}")
        listed = parse_media_playlist(playlist.read_text(), name)
        segments = tuple(
            Segment(uri, duration, (out_dir / uri).stat().st_size) for uri, duration in listed
        )
        if not segments:
            raise TransientFailure(f"ffmpeg wrote no segments for {name}")
        init = (folder / "init.mp4").read_bytes()
        if kind == "audio":
            return Rendition(
                name=name, kind=kind, codec="mp4a.40.2", init=f"{name}/init.mp4",
                playlist=f"{name}/index.m3u8", segments=segments, target_kbps=_AUDIO_KBPS,
                channels=2, sample_rate=48000,
            )  # fmt: skip
        assert rung is not None
        return Rendition(
            name=name, kind=kind, codec=avc_codec_string(init), init=f"{name}/init.mp4",
            playlist=f"{name}/index.m3u8", segments=segments, target_kbps=rung.bitrate_kbps,
            width=rung.width, height=rung.height, frame_rate=fps,
        )  # fmt: skip
