"""Planning a run before anything executes: which videos, which chunks and segments, what resources.

Everything here is cheap and runs when Snakemake builds the DAG. Chunks are
planned from the frame count that the probe_video checkpoint decodes
(``video.load_probe`` reads its probe.json), never from a container header.
"""

from __future__ import annotations

import glob
import hashlib
import math
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, VideoError
from .frames import FrameRange
from .settings import Encoding
from .models import describe

#: Top-level names the workflow itself writes under results/ and logs/: a
#: video whose id would be one of them gets a suffix instead (results/weights/
#: is the weights record's folder, results/metrics_summary.csv a file).
#: tests/unit/test_video_ids.py checks this against the rules.
RESERVED_IDS = frozenset({"weights", "download_weights", "metrics_summary.csv", "summarize_metrics.log",
                          "overview.html", "overview.log"})

#: The workflow's own folders in the working directory: globs never take files there.
OWN_FOLDERS = ("results", "logs", ".snakemake")

_ID_BYTES = 200  # room for suffixes in a 255-byte file name


def _safe_stem(stem: str) -> str:
    """The file stem with every character other than letters, digits, ``.``, ``_``, ``-`` made ``_``.

    Letters and digits of any script are kept (NFC-normalized); runs of ``_``
    shrink to one; leading dots, underscores and dashes and trailing dots and
    underscores go, so that no id is hidden, ``.``, ``..`` or read as an option.
    """
    stem = unicodedata.normalize("NFC", stem)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)
    safe = re.sub(r"^[._-]+|[._]+$", "", re.sub(r"_{2,}", "_", safe))
    while len(safe.encode()) > _ID_BYTES:
        safe = safe[:-1]
    return safe


def video_id(path: str | Path) -> str:
    """The id of a video alone (no other video to tell it from): its file name without extension, made safe.

    ``find_videos`` gives the ids of a run: where two videos' ids would be the
    same (or differ only in case), or an id would name one of the workflow's
    own outputs, it adds a suffix derived from the file name.
    """
    return _safe_stem(Path(path).stem) or "video"


def _suffixed(base: str, key: str) -> str:
    return f"{base}-{hashlib.sha1(key.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def assign_ids(paths: list[Path]) -> dict[str, Path]:
    """Distinct, safe ids for distinct files: id -> path.

    A video keeps its plain id (``video_id``) unless another video's id equals
    it ignoring case, or it is reserved (:data:`RESERVED_IDS`); then it gets
    ``<id>-<8 hex digits>``, from its file name (from its path where two
    files share a name). A video whose file name needed no change keeps its
    plain id when it is the only such one of its group.
    """
    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(video_id(path).casefold(), []).append(path)
    ids: dict[str, Path] = {}
    for group in groups.values():
        base = video_id(group[0])
        if len(group) == 1 and base.casefold() not in RESERVED_IDS:
            ids[base] = group[0]
            continue
        plain = [p for p in group if p.stem == video_id(p)]
        names = [p.name for p in group]
        for path in group:
            if len(plain) == 1 and path is plain[0] and base.casefold() not in RESERVED_IDS:
                ids[video_id(path)] = path
                continue
            key = os.fspath(path) if names.count(path.name) > 1 else path.name
            ids[_suffixed(video_id(path), key)] = path
    if len({i.casefold() for i in ids}) != len(ids):  # a file literally named like a suffixed id
        clash = sorted(ids, key=str.casefold)
        raise ConfigError(f"config 'videos': two videos get ids that differ only in case among {clash}; "
                          "rename one of them")
    return ids


def _is_own_output(path: Path, base: Path) -> bool:
    try:
        relative = path.resolve().relative_to(base.resolve())
    except ValueError:
        return False
    return bool(relative.parts) and relative.parts[0] in OWN_FOLDERS


def find_videos(patterns: list[str], base: str | Path = ".", *, results: str | None = None) -> dict[str, Path]:
    """Map video id → path for config ``videos`` (paths or glob patterns).

    An entry naming an existing file is that file, even if it holds glob
    characters (``[P01] trial.mp4``); otherwise an entry with ``*``, ``?`` or
    ``[`` is a glob pattern. Globs never take the workflow's own files
    (results/, logs/). A pattern that matches nothing and a missing file are
    errors that name the culprits; ids are :func:`assign_ids`'.

    ``results``: the results folder (relative to ``base``). A missing file
    whose video was probed there (``<results>/<id>/probe.json``: moved away
    after a run) is kept, so that its results can still be reported; the
    caller tells it by its path not existing.
    """
    base = Path(base)
    found: dict[Path, Path] = {}  # resolved -> as matched
    missing: list[Path] = []
    for pattern in patterns:
        expanded = Path(pattern).expanduser()
        path = expanded if expanded.is_absolute() else base / expanded
        if path.is_file():
            matches = [path]
        elif glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(os.fspath(path), recursive=True)
                             if Path(p).is_file() and not _is_own_output(Path(p), base))
            if not matches and results is not None and (base / results / video_id(path) / "probe.json").is_file():
                missing += [] if path in missing else [path]  # named like a pattern ('[P01] a.mp4'), moved
            elif not matches:
                raise VideoError(f"config 'videos': the pattern {pattern!r} matches no file (looked in "
                                 f"{base.resolve()}; the workflow's own {', '.join(OWN_FOLDERS[:2])} folders "
                                 "are left out)")
        elif not path.exists():
            if results is None:
                raise _missing(path)
            if path not in missing:
                missing.append(path)
            matches = []
        else:
            raise VideoError(f"config 'videos': {path} is not a file")
        for match in matches:
            found.setdefault(match.resolve(), match)
    if not found and not missing:
        raise ConfigError("config 'videos' lists no video")
    ids = assign_ids(list(found.values()) + missing)
    for vid, path in ids.items():
        if path in missing and not (base / results / vid / "probe.json").is_file():
            raise _missing(path)
    return ids


def _missing(path: Path) -> VideoError:
    return VideoError(f"config 'videos': {path} does not exist; fix the path in config.yaml")


def tracked_path(vid: str, path: Path, links_dir: str | Path) -> Path:
    """The path by which the rules name video ``vid``: ``path``, or a link to it.

    Snakemake reads ``{...}`` in an input path as a wildcard, with no way to
    escape it, so a video whose path holds a brace is named by a link
    ``<links_dir>/<id><suffix>`` to it instead (made or corrected here,
    atomically: several DAG builds may run at once). Snakemake dates a link
    by its target, so the link itself never triggers a rerun.
    """
    if "{" not in str(path) and "}" not in str(path):
        return path
    suffix = path.suffix if not {"{", "}"} & set(path.suffix) else ""
    link = Path(links_dir) / f"{vid}{suffix}"
    target = os.path.abspath(path)
    try:
        if os.readlink(link) == target:
            return link
    except OSError:
        pass
    link.parent.mkdir(parents=True, exist_ok=True)
    temporary = link.with_name(f".{link.name}.{os.getpid()}.link")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, link)
    return link


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
# GPU memory of one frame in a micro-batch, fp32: about 0.9 GB at 720p (DeepGaze
# MR measured on an H200, docs/performance.md "On a GPU").
GPU_BYTES_PER_PIXEL = 0.9e9 / (1280 * 720)


def chunk_runtime_minutes(chunk: FrameRange, width: int, height: int, model: str) -> int:
    """Wall time to ask for: 2x the expected time on an older GPU, plus start-up."""
    megapixels = width * height / 1e6
    seconds = chunk.frames_decoded * megapixels * describe(model).seconds_per_megapixel_frame
    return int(10 + math.ceil(2 * seconds / 60))


def chunk_mem_mb(width: int, height: int, batch_size: int, frames: int | None = None) -> int:
    """Host memory to ask for: the runtime (~2 GiB) plus per-frame buffers.

    ``frames``: the frames the chunk decodes; a micro-batch never holds more.
    """
    batch = max(1, batch_size if frames is None else min(batch_size, frames))
    return int(2048 + math.ceil(width * height * HOST_BYTES_PER_PIXEL * batch / 2**20))


def gpu_bytes_per_batch(width: int, height: int, batch_size: int) -> float:
    """Estimated GPU memory of one micro-batch of ``batch_size`` frames (fp32)."""
    return width * height * GPU_BYTES_PER_PIXEL * batch_size


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
