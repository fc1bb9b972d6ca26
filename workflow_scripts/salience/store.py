"""Zarr stores of per-frame log-densities.

Layout (zarr format 3): a group holding the array ``log_density`` of shape
(T, H, W), one chunk per frame (a frame is the unit every reader and writer
touches; per-frame chunks also let parallel writers own whole chunks).
Group attributes describe the video and everything that shaped the result.

The array is float32 (exact) or float16 (``STORE_DTYPES``). float16 keeps
log-densities to within 0.008 (half its step for values from -32 to -16;
typical values are -10 to -17) and compresses about 4x better: float32's low
mantissa bits are noise that no compressor can squeeze. Readers get float32
either way (``np.asarray(..., np.float32)``). Figures:
benchmarks/bench_store.py.

Stores are written into a temporary directory beside the target and renamed
into place when complete, so a killed job never leaves a store that looks
finished.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec, ZstdCodec

from .atomic import StagedDir
from .errors import SalienceError

ARRAY = "log_density"
CENTER_BIAS = "log_center_bias"  # H x W: the log center bias the model used, at frame size
STORE_DTYPES = ("float32", "float16")


def create(path: str | Path, frame_count: int, height: int, width: int, attrs: dict,
           dtype: str = "float32", log_center_bias: np.ndarray | None = None) -> zarr.Array:
    """A new store at ``path`` (a directory that does not exist yet).

    ``log_center_bias``: the H x W log center bias the model added (resized to
    the frame, normalized), stored as ``log_center_bias`` in float32.
    """
    if dtype not in STORE_DTYPES:
        raise SalienceError(f"{path}: store dtype must be one of {STORE_DTYPES}, got {dtype!r}")
    group = zarr.open_group(str(path), mode="w-", zarr_format=3)
    group.attrs.update({**attrs, "store_dtype": dtype})
    if log_center_bias is not None:
        write_center_bias(group, log_center_bias, height, width, path)
    return group.create_array(
        ARRAY, shape=(frame_count, height, width), chunks=(1, height, width),
        dtype=dtype, fill_value=np.nan, compressors=COMPRESSORS[dtype],
    )


def write_center_bias(group: zarr.Group, log_center_bias, height: int, width: int, path) -> None:
    log_center_bias = np.asarray(log_center_bias, dtype=np.float32)
    if log_center_bias.shape != (height, width):
        raise SalienceError(f"{path}: the log center bias is {log_center_bias.shape}, not {(height, width)}")
    array = group.create_array(CENTER_BIAS, shape=(height, width), chunks=(height, width),
                               dtype="float32", compressors=[ZstdCodec(level=3)])
    array[...] = log_center_bias


def read_center_bias(path: str | Path) -> np.ndarray | None:
    """The stored H x W log center bias (float32), or None for a store without one."""
    group = zarr.open_group(str(path), mode="r")
    return group[CENTER_BIAS][...] if CENTER_BIAS in group else None


# float32 maps hardly compress whatever the codec (noise in the low bits), so
# the fastest one wins: bit-shuffled LZ4 writes a 1080p frame twice as fast
# as zarr's default zstd and 20 % smaller. float16 is chosen for its size, so
# it keeps zstd (1.4 MB per 1080p frame, vs 2.2 MB with LZ4).
COMPRESSORS = {
    "float32": [BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")],
    "float16": [ZstdCodec(level=3)],
}


# Frames compressed and written at once, at least. The codecs release the
# GIL, so writer threads add up (1080p float32 on 2 cores: 97 → 130 frames/s
# from 1 to 2 threads), and the thread that drives the GPU never waits for
# the disk. Jobs given more
# CPUs write with one thread per CPU (``threads``): a GPU at hundreds of
# 720p frames/s needs them.
WRITE_THREADS = 2


class _ParallelWrites:
    """Writes frames of ``array`` on background threads, a bounded number behind.

    Each write owns one whole chunk (a frame), as zarr needs for parallel
    writers. A failed write is re-raised by ``put`` or ``wait``; leaving the
    ``with`` block waits for every write.
    """

    def __init__(self, array: zarr.Array, threads: int | None = None):
        self.array = array
        self.threads = max(WRITE_THREADS, threads or 0)
        self.pool = ThreadPoolExecutor(self.threads, "salience-zarr")
        self.pending: deque[Future] = deque()

    def put(self, position: int, frame: np.ndarray) -> None:
        self.pending.append(self.pool.submit(self._write, position, frame))
        while len(self.pending) > 2 * self.threads:
            self.pending.popleft().result()

    def _write(self, position: int, frame: np.ndarray) -> None:
        self.array[position] = np.asarray(frame, dtype=self.array.dtype)

    def wait(self) -> None:
        while self.pending:
            self.pending.popleft().result()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.pool.shutdown(wait=True)


def write_frames(
    path: str | Path,
    frames: Iterable[tuple[int, np.ndarray]],
    *,
    first: int,
    count: int,
    height: int,
    width: int,
    attrs: dict,
    dtype: str = "float32",
    threads: int | None = None,
    on_frame=None,
    log_center_bias: np.ndarray | None = None,
) -> None:
    """Write ``count`` frames (indices ``first``..) into a new store, atomically.

    ``frames`` yields ``(index, log_density)`` in order; the store's frame 0 is
    video frame ``first`` (recorded as attribute ``first_frame``). A missing,
    misplaced or wrongly sized frame is an error: no store appears. ``dtype``:
    one of ``STORE_DTYPES``; ``threads``: writer threads (at least
    ``WRITE_THREADS``); ``log_center_bias``: the H x W log center bias the
    model used, stored beside the maps.
    """
    with StagedDir(path) as staged:
        array = create(staged.temp, count, height, width, {**attrs, "first_frame": first}, dtype,
                       log_center_bias)
        with _ParallelWrites(array, threads) as writes:
            expected = first
            for index, log_density in frames:
                if index != expected:
                    raise SalienceError(f"{path}: got frame {index} where frame {expected} was due")
                if log_density.shape != (height, width):  # zarr would crop or pad it silently
                    raise SalienceError(f"{path}: frame {index} is {log_density.shape}, not {(height, width)}")
                writes.put(index - first, log_density)
                expected += 1
                if on_frame is not None:
                    on_frame()
            writes.wait()
        if expected != first + count:
            raise SalienceError(
                f"{path}: the video ended after frame {expected - 1}, before frame "
                f"{first + count - 1}; its frame count is wrong or the file is truncated"
            )


def open_array(path: str | Path) -> zarr.Array:
    """The ``log_density`` array of an existing store (read only)."""
    try:
        return zarr.open_group(str(path), mode="r")[ARRAY]
    except (FileNotFoundError, KeyError) as error:
        raise SalienceError(f"{path} is not a saliency store (no '{ARRAY}' array): {error}") from error


def assemble(
    chunk_paths: Iterable[str | Path],
    output: str | Path,
    *,
    frame_count: int,
    attrs: dict,
    allow_nan_before: int = 0,
    dtype: str = "float32",
) -> None:
    """Concatenate chunk stores into one store of ``frame_count`` frames.

    Chunks must tile ``[0, frame_count)`` exactly (each holds only its own
    frames; the warm-up overlap is never written). Every frame is checked:
    finite and normalized (``logsumexp == 0``), except NaN frames before
    ``allow_nan_before`` (the "skip" head policy). The store is written as
    ``dtype``; a chunk of another dtype is converted. The chunks' log center
    bias (all equal) is stored once.
    """
    chunks = sorted(((_first(Path(p)), open_array(p), Path(p)) for p in chunk_paths),
                    key=lambda item: item[0])
    if not chunks:
        raise SalienceError(f"{output}: no chunks to assemble")
    _, height, width = chunks[0][1].shape
    log_center_bias = _common_center_bias([path for _, _, path in chunks])
    with StagedDir(output) as staged, _ParallelWrites(
        create(staged.temp, frame_count, height, width, attrs, dtype, log_center_bias)
    ) as writes:
        expected = 0
        for first, array, path in chunks:
            if first != expected:
                raise SalienceError(
                    f"{path}: chunk starts at frame {first} but frame {expected} is due; "
                    "chunks must cover the video without gaps or overlaps"
                )
            if array.shape[1:] != (height, width):
                raise SalienceError(f"{path}: frame size {array.shape[1:]} differs from {(height, width)}")
            for offset in range(array.shape[0]):
                frame = array[offset]
                index = first + offset
                check_frame(frame, index, path, allow_nan=index < allow_nan_before)
                writes.put(index, frame)
            expected = first + array.shape[0]
        if expected != frame_count:
            raise SalienceError(f"{output}: chunks cover {expected} frames, the video has {frame_count}")
        writes.wait()


def _common_center_bias(paths: list[Path]) -> np.ndarray | None:
    """The log center bias of chunk stores, which must all hold the same one (or none)."""
    biases = [read_center_bias(path) for path in paths]
    first = biases[0]
    for path, bias in zip(paths[1:], biases[1:]):
        if (bias is None) != (first is None) or (bias is not None and not np.array_equal(bias, first)):
            raise SalienceError(f"{path}: its log center bias differs from that of {paths[0]}; "
                                "the chunks come from different runs: delete them and run again")
    return first


def _first(path: Path) -> int:
    try:
        return int(zarr.open_group(str(path), mode="r").attrs["first_frame"])
    except (FileNotFoundError, KeyError) as error:
        raise SalienceError(f"{path} is not a chunk store (no 'first_frame' attribute)") from error


def check_frame(frame: np.ndarray, index: int, source, *, allow_nan: bool = False) -> None:
    """A log-density frame must be finite and normalized.

    The 1e-3 tolerance holds for float16 frames too: their rounding errors
    (relative density errors within ±0.4 %) average out over the pixels.
    """
    if allow_nan and np.isnan(frame).all():
        return
    if not np.isfinite(frame).all():
        raise SalienceError(f"{source}: frame {index} has non-finite values")
    peak = float(frame.max())
    total = peak + float(np.log(np.exp(frame.astype(np.float64) - peak).sum()))
    if abs(total) > 1e-3:
        raise SalienceError(f"{source}: frame {index} is not a normalized log-density (logsumexp {total:.4g})")
