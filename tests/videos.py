"""Tiny real video files for tests, encoded with imageio-ffmpeg's ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

from salience.video import ffmpeg_exe


def make_video(path: str | Path, *, frames: int = 40, size: str = "64x48", fps: int = 25,
               audio: bool = False, source: str = "testsrc2") -> Path:
    """H.264 (with B-frames, several GOPs) in the container of ``path``'s suffix."""
    path = Path(path)
    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"{source}=size={size}:rate={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    args += ["-frames:v", str(frames), "-c:v", "libx264", "-bf", "3", "-g", "12", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-shortest"]
    subprocess.run([*args, str(path)], check=True)
    return path
