"""Planning a run before anything executes: which videos, which chunks and segments, what resources.

Everything here is cheap and runs when Snakemake builds the DAG. Chunks are
planned from the frame count that the probe_video checkpoint decodes
(``video.load_probe`` reads its probe.json), never from a container header.
"""

from __future__ import annotations

import glob
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, VideoError
from .frames import FrameRange
from .settings import Encoding
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


def chunk(start: int, stop: int, window: int) -> FrameRange:
    """Frames ``[start, stop)`` predicted by one job, with the warm-up a model of ``window`` frames needs.

    Each chunk after the first decodes ``window - 1`` extra frames before its
    start (fewer near the video's start) so that its first frame sees a full
    window, exactly as in one sequential run.
    """
    return FrameRange(start, stop, min(start, window - 1))


def chunk_named(name: str, window: int) -> FrameRange:
    """The chunk a store or wildcard name (``frames.NAME_PATTERN``) stands for, with its warm-up."""
    named = FrameRange.parse(name)
    return chunk(named.start, named.stop, window)


def plan_chunks(frame_count: int, chunk_frames: int, window: int = 16) -> list[FrameRange]:
    """Tile ``[0, frame_count)`` with chunks of ``chunk_frames`` (the last may be shorter)."""
    if frame_count < 1:
        raise VideoError(f"a video with {frame_count} frames cannot be planned")
    if chunk_frames < 1:
        raise ConfigError(f"chunk_frames must be at least 1, got {chunk_frames}")
    return [chunk(start, min(start + chunk_frames, frame_count), window)
            for start in range(0, frame_count, chunk_frames)]


def plan_segments(chunks: Sequence, segment_frames: int | None = None) -> list[FrameRange]:
    """Segments of at most ``segment_frames`` frames, each inside one chunk.

    ``chunks``: objects with ``start`` and ``stop`` tiling the video (the
    prediction chunks). ``segment_frames=None``: one segment per chunk. A
    chunk longer than ``segment_frames`` is split into equal parts (none
    shorter than needed), so no segment is a sliver.
    """
    if segment_frames is not None and segment_frames < 1:
        raise ConfigError(f"render: segment_frames must be at least 1, got {segment_frames}")
    segments = []
    for whole in chunks:
        length = whole.stop - whole.start
        parts = 1 if segment_frames is None else -(-length // segment_frames)
        bounds = [whole.start + (length * k) // parts for k in range(parts + 1)]
        segments += [FrameRange(a, b) for a, b in zip(bounds, bounds[1:])]
    return segments


@dataclass(frozen=True)
class VideoPlan:
    """The chunks (prediction jobs) and segments (render jobs) of one video."""

    chunks: tuple[FrameRange, ...]
    segments: tuple[FrameRange, ...]

    def chunk_of(self, segment: FrameRange) -> FrameRange:
        """The chunk that holds a segment's frames."""
        for candidate in self.chunks:
            if candidate.contains(segment):
                return candidate
        raise ValueError(f"segment {segment.name} lies in no chunk of the plan")


def plan_video(frame_count: int, chunk_frames: int, window: int, segment_frames: int | None = None) -> VideoPlan:
    chunks = plan_chunks(frame_count, chunk_frames, window)
    return VideoPlan(tuple(chunks), tuple(plan_segments(chunks, segment_frames)))


# Resource estimates for one chunk job. Conservative on purpose: a job killed
# for exceeding its time or memory wastes a whole GPU allocation.
HOST_BYTES_PER_PIXEL = 600  # decoded frames, CPU-side tensors, output maps


def chunk_runtime_minutes(chunk: FrameRange, width: int, height: int, model: str) -> int:
    """Wall time to ask for: 2x the expected time on an older GPU, plus start-up."""
    megapixels = width * height / 1e6
    seconds = chunk.frames_decoded * megapixels * describe(model).seconds_per_megapixel_frame
    return int(10 + math.ceil(2 * seconds / 60))


def chunk_mem_mb(width: int, height: int, batch_size: int) -> int:
    """Host memory to ask for: the runtime (~2 GiB) plus per-frame buffers."""
    return int(2048 + math.ceil(width * height * HOST_BYTES_PER_PIXEL * max(batch_size, 1) / 2**20))


# Resource estimates for one render_segment job (two x264 encodes of the
# segment plus colouring, 2 threads). Measured by benchmarks/bench_render.py
# on 2 heavily shared cores (medium: 0.17-0.19 s per megapixel-frame at 720p
# and 1080p), rounded up; slower and veryslow were not measured (x264's own
# ratios). The runtime asked for is twice this, plus start-up.
SECONDS_PER_MEGAPIXEL_FRAME = {
    "ultrafast": 0.06, "superfast": 0.08, "veryfast": 0.12, "faster": 0.15, "fast": 0.18,
    "medium": 0.25, "slow": 0.35, "slower": 0.6, "veryslow": 1.2,
}
ENCODER_FRAMES_HELD = 100  # lookahead, reference and threaded frames of one x264 encode, generously


def segment_runtime_minutes(frames: int, width: int, height: int, preset: str = Encoding.preset) -> int:
    """Wall time to ask for, in minutes: 2x the expected time plus 5 minutes."""
    seconds = frames * width * height / 1e6 * SECONDS_PER_MEGAPIXEL_FRAME.get(preset, 1.2)
    return int(5 + -(-2 * seconds // 60))


def segment_mem_mb(width: int, height: int) -> int:
    """Host memory to ask for: the Python runtime (~1 GiB) plus two encoders' frame buffers."""
    frame_bytes = width * height * 1.5  # yuv420p
    return int(1024 + -(-2 * ENCODER_FRAMES_HELD * frame_bytes // 2**20))
