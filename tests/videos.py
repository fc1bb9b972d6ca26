"""Tiny real video files for tests, encoded with imageio-ffmpeg's ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

from salience.video import ffmpeg_exe


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg binary of imageio-ffmpeg quietly; fail on error."""
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def stream_info(path) -> str:
    """ffmpeg's description of a file's streams (codec, pixel format, audio)."""
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True).stderr


def decode_all(path) -> list[np.ndarray]:
    """Every frame by plain sequential decoding, RGB: the reference for seeking tests."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def make_video(path: str | Path, *, frames: int = 40, size: str = "64x48", fps: int = 25,
               audio: bool = False, source: str = "testsrc2") -> Path:
    """H.264 (with B-frames, several GOPs) in the container of ``path``'s suffix."""
    path = Path(path)
    args = ["-f", "lavfi", "-i", f"{source}=size={size}:rate={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    args += ["-frames:v", str(frames), "-c:v", "libx264", "-bf", "3", "-g", "12", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-shortest"]
    ffmpeg(*args, str(path))
    return path
