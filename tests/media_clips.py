"""Real test clips made with ffmpeg's own generators (testsrc2 pattern, sine tone)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from matinee.services.media.ffmpeg import find_ffmpeg


def make_clip(
    path: Path,
    *,
    seconds: float = 6.0,
    size: str = "640x360",
    rate: int = 25,
    audio: bool = True,
    video: bool = True,
    frames: int | None = None,
) -> Path:
    """Write a clip with the requested streams; return its path."""
    args = [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    if video:
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if frames is not None:
        args += ["-frames:v", str(frames)]
    if audio:
        args += ["-c:a", "aac"]
    args += ["-shortest", str(path)]
    subprocess.run(args, check=True, timeout=60)
    return path
