"""Planning a run before anything executes: which videos, which chunks, what resources.

Everything here is cheap and runs when Snakemake builds the DAG. Chunks are
planned from the frame count that the probe_video checkpoint decodes
(``video.load_probe`` reads its probe.json), never from a container header.
"""

from __future__ import annotations

import glob
import math
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, VideoError
from .models import describe

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def video_id(path: str | Path) -> str:
    """The id of a video in output paths: its file name without extension.

    Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``
    (they would break paths or Snakemake wildcards).
    """
    return _UNSAFE.sub("_", Path(path).stem).strip("_") or "video"


def find_videos(patterns: list[str], base: str | Path = ".") -> dict[str, Path]:
    """Map video id → path for config ``videos`` (paths or glob patterns).

    A pattern that matches nothing, a missing file, and two videos with the
    same id are errors that name the culprits.
    """
    base = Path(base)
    videos: dict[str, Path] = {}
    for pattern in patterns:
        full = str(Path(pattern).expanduser() if Path(pattern).expanduser().is_absolute() else base / pattern)
        if glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(full, recursive=True) if Path(p).is_file())
            if not matches:
                raise VideoError(f"config 'videos': the pattern {pattern!r} matches no file (looked in {base.resolve()})")
        else:
            path = Path(full)
            if not path.exists():
                raise VideoError(f"config 'videos': {path} does not exist; fix the path in config.yaml")
            if not path.is_file():
                raise VideoError(f"config 'videos': {path} is not a file")
            matches = [path]
        for path in matches:
            key = video_id(path)
            if key in videos and videos[key].resolve() != path.resolve():
                raise ConfigError(
                    f"config 'videos': {videos[key]} and {path} both get the id {key!r} "
                    "(their file names); rename one of them"
                )
            videos[key] = path
    if not videos:
        raise ConfigError("config 'videos' lists no video")
    return videos


@dataclass(frozen=True)
class Chunk:
    """Frames ``[start, stop)`` of a video; ``warm_up`` frames decoded before them."""

    start: int
    stop: int
    warm_up: int

    @property
    def name(self) -> str:
        return f"{self.start:07d}-{self.stop:07d}"

    @property
    def frames_decoded(self) -> int:
        return self.stop - self.start + self.warm_up


def plan_chunks(frame_count: int, chunk_frames: int, window: int = 16) -> list[Chunk]:
    """Tile ``[0, frame_count)`` with chunks of ``chunk_frames`` (the last may be shorter).

    Each chunk after the first decodes ``window - 1`` extra frames before its
    start so that its first frame sees a full window, exactly as in one
    sequential run.
    """
    if frame_count < 1:
        raise VideoError(f"a video with {frame_count} frames cannot be planned")
    if chunk_frames < 1:
        raise ConfigError(f"chunk_frames must be at least 1, got {chunk_frames}")
    return [
        Chunk(start, min(start + chunk_frames, frame_count), min(start, window - 1))
        for start in range(0, frame_count, chunk_frames)
    ]


def parse_chunk_name(name: str) -> tuple[int, int]:
    start, stop = name.split("-")
    return int(start), int(stop)


# Resource estimates for one chunk job. Conservative on purpose: a job killed
# for exceeding its time or memory wastes a whole GPU allocation.
HOST_BYTES_PER_PIXEL = 600  # decoded frames, CPU-side tensors, output maps


def chunk_runtime_minutes(chunk: Chunk, width: int, height: int, model: str) -> int:
    """Wall time to ask for: 2x the expected time on an older GPU, plus start-up."""
    megapixels = width * height / 1e6
    seconds = chunk.frames_decoded * megapixels * describe(model).seconds_per_megapixel_frame
    return int(10 + math.ceil(2 * seconds / 60))


def chunk_mem_mb(width: int, height: int, batch_size: int) -> int:
    """Host memory to ask for: the runtime (~2 GiB) plus per-frame buffers."""
    return int(2048 + math.ceil(width * height * HOST_BYTES_PER_PIXEL * max(batch_size, 1) / 2**20))
