"""Zarr stores of per-frame log-densities.

Layout of ``saliency.zarr`` (zarr format 3, one group; ``xarray.open_zarr``
reads it as a Dataset, ``salience.open`` adds a time index):

- ``log_density`` (frame, y, x): the maps, one chunk per frame inside shards
  of ``shard_frames`` frames (one file per shard). Attributes: units,
  ``coordinates = "time"``.
- ``log_center_bias`` (y, x): the log center bias the model added (resized to
  the frame, normalized), float32.
- ``frame`` (frame): video frame indices; ``time`` (frame): each frame's time
  in seconds on the video's timeline, 0 at the first frame (the probe's
  timestamps minus the first one, else frame / fps); the attribute
  ``time_origin`` is the source-clock time of that 0.
- group attributes: the video (probe) and everything that shaped the result.
- consolidated metadata: readers never list the directory, so Snakemake's
  ``.snakemake_timestamp`` marker in it goes unnoticed.

Chunk stores (one per prediction job) hold ``log_density`` (their own frames,
frame 0 = video frame ``first_frame``) and ``log_center_bias``. A job starts
at a multiple of ``shard_frames`` and writes whole shards, so its shard files
are the final store's shard files under other numbers: assembly links them
into place (``os.link``, no data read or written) and writes the metadata.

Storage (``STORE_DTYPES``; figures: benchmarks/bench_store.py):

- ``float32``: exact.
- ``float16``: within 0.008 (half its step for values from -32 to -16).
- ``quantized``: float32 values rounded to multiples of ``QUANTUM`` = 2**-8
  (error at most 2**-9 = 0.00195 on every value, whatever its size),
  compressed with pcodec (it finds the rounding and the smoothness of the
  maps): about 7.7x smaller than float32 at 1080p. Readers get float32 values
  through zarr's numcodecs wrapper (the ``pcodec`` package must be
  installed; it is a dependency of this one).
"""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
import warnings
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec, ZstdCodec

from .atomic import StagedDir, remove_stale_temporaries
from .background import map_ahead
from .errors import ConfigError, SalienceError
from .settings import Storage

ARRAY = "log_density"
CENTER_BIAS = "log_center_bias"  # H x W: the log center bias the model used, at frame size
DIMS = ("frame", "y", "x")
STORE_DTYPES = ("float32", "float16", "quantized")
QUANTUM = 2.0**-8  # "quantized": the step of stored values
# Default frames per shard file (config ``shard_frames``): 20 frames make a
# 20-minute 30 fps video 1,800 files instead of 36,000; a job holds up to
# WRITE_THREADS + 1 shards of float32 frames (0.5 GB at 1080p).
SHARD_FRAMES = Storage.shard_frames

LOG_DENSITY_ATTRS = {
    "long_name": "log saliency density",
    "units": "log(1/pixel)",
    "description": "natural log of the probability of a fixation on each pixel; "
                   "exp(log_density[frame]) sums to 1 over the frame",
    "coordinates": "time",
}


# zarr wraps numcodecs' codecs (pcodec: the "quantized" storage) with a
# warning, on every open, that they are outside the zarr v3 specification;
# the docs say so once instead.
CODEC_WARNING = "Numcodecs codecs are not in the Zarr"


def _quiet_codecs(function):
    @functools.wraps(function)
    def quiet(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=CODEC_WARNING)
            return function(*args, **kwargs)

    return quiet


def _pcodec():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=CODEC_WARNING)
        from zarr.codecs.numcodecs import PCodec

        return PCodec(level=8)


def _encoding(dtype: str) -> dict:
    """zarr's ``create_array`` arguments for a storage name."""
    if dtype == "float32":
        # float32 maps hardly compress whatever the codec (noise in the low
        # bits), so the fastest one wins: bit-shuffled LZ4.
        return {"dtype": "float32", "compressors": [BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")]}
    if dtype == "float16":
        return {"dtype": "float16", "compressors": [ZstdCodec(level=3)]}
    if dtype == "quantized":
        return {"dtype": "float32", "serializer": _pcodec(), "compressors": None}
    raise SalienceError(f"store dtype must be one of {STORE_DTYPES}, got {dtype!r}")


def shard_frames_for(chunk_frames: int, shard_frames: int) -> int:
    """Frames per shard for prediction jobs of ``chunk_frames``: whole shards per job.

    Jobs start at multiples of ``chunk_frames``, so a job writes whole shard
    files exactly when the shard size divides ``chunk_frames``. The rule: the
    largest divisor of ``chunk_frames`` not above ``shard_frames`` (config: the
    most frames per file). A divisor below half of ``shard_frames`` would
    multiply the files needlessly: a config error naming better values.
    """
    if chunk_frames < 1 or shard_frames < 1:
        raise ConfigError(f"chunk_frames and shard_frames must be at least 1, got {chunk_frames}, {shard_frames}")
    size = max(d for d in range(1, min(chunk_frames, shard_frames) + 1) if chunk_frames % d == 0)
    if size < min(chunk_frames, shard_frames) / 2:
        better = [n for n in range(chunk_frames - shard_frames, chunk_frames + shard_frames + 1)
                  if n > 0 and n % shard_frames == 0]
        raise ConfigError(
            f"config 'chunk_frames' ({chunk_frames}) has no divisor between {shard_frames // 2} and "
            f"{shard_frames} ('shard_frames'), so saliency.zarr would have a file per {size} frames; "
            f"use chunk_frames {' or '.join(map(str, better))}, or a shard_frames that divides it"
        )
    return size


@_quiet_codecs
def create(path: str | Path, frame_count: int, height: int, width: int, attrs: dict,
           dtype: str = "float32", log_center_bias: np.ndarray | None = None,
           shard_frames: int = SHARD_FRAMES) -> zarr.Array:
    """A new store at ``path`` (a directory that does not exist yet).

    ``log_center_bias``: the H x W log center bias the model added (resized to
    the frame, normalized), stored as ``log_center_bias`` in float32.
    """
    encoding = _encoding(dtype)
    if shard_frames < 1:
        raise SalienceError(f"{path}: shard_frames must be at least 1, got {shard_frames}")
    group = zarr.open_group(str(path), mode="w-", zarr_format=3)
    group.attrs.update({**attrs, "store_dtype": dtype})
    if log_center_bias is not None:
        write_center_bias(group, log_center_bias, height, width, path)
    array_attrs = dict(LOG_DENSITY_ATTRS)
    if dtype == "quantized":
        array_attrs["quantum"] = QUANTUM
    return group.create_array(
        ARRAY, shape=(frame_count, height, width), chunks=(1, height, width),
        shards=(shard_frames, height, width), fill_value=np.nan,
        dimension_names=DIMS, attributes=array_attrs, **encoding,
    )


def write_center_bias(group: zarr.Group, log_center_bias, height: int, width: int, path) -> None:
    log_center_bias = np.asarray(log_center_bias, dtype=np.float32)
    if log_center_bias.shape != (height, width):
        raise SalienceError(f"{path}: the log center bias is {log_center_bias.shape}, not {(height, width)}")
    array = group.create_array(
        CENTER_BIAS, shape=(height, width), chunks=(height, width), dtype="float32",
        compressors=[ZstdCodec(level=3)], dimension_names=DIMS[1:],
        attributes={"long_name": "log center bias added to every frame", "units": "log(1/pixel)"},
    )
    array[...] = log_center_bias


@_quiet_codecs
def read_center_bias(path: str | Path) -> np.ndarray | None:
    """The stored H x W log center bias (float32), or None for a store without one."""
    group = _open_group(path)
    return group[CENTER_BIAS][...] if CENTER_BIAS in group else None


# Shards compressed and written at once, at least. The codecs release the
# GIL, so writer threads add up, and the thread that drives the GPU never
# waits for the disk. Jobs given more CPUs write with one thread per CPU
# (``threads``).
WRITE_THREADS = 2


class _ShardWrites:
    """Collects frames into whole shards and writes each on a background thread.

    Writers sharing a shard file lose data (the shared notes), so one thread
    writes one whole shard; at most ``threads`` shards are being written while
    the next fills (memory: ``threads + 1`` shards of frames). Frames are
    checked on the writer threads. A failed write is re-raised by ``put`` or
    ``finish``; leaving the ``with`` block waits for every write.
    """

    def __init__(self, array: zarr.Array, threads: int | None = None, *, source, first: int = 0,
                 allow_nan_before: int = 0):
        self.array = array
        self.shard = array.shards[0] if array.shards else array.chunks[0]
        self.threads = max(WRITE_THREADS, threads or 0)
        self.pool = ThreadPoolExecutor(self.threads, "salience-zarr")
        self.pending: deque[Future] = deque()
        self.source, self.first, self.allow_nan_before = source, first, allow_nan_before
        self.block = None
        self.block_start = 0
        self.filled = 0

    def put(self, position: int, frame: np.ndarray) -> None:
        if self.block is None:
            self.block_start = position - position % self.shard
            length = min(self.shard, self.array.shape[0] - self.block_start)
            self.block = np.full((length, *self.array.shape[1:]), np.nan, np.float32)
            self.filled = 0
        self.block[position - self.block_start] = frame
        self.filled += 1
        if position + 1 == self.block_start + len(self.block):
            self._submit()

    def _submit(self) -> None:
        block, start, count = self.block, self.block_start, self.filled
        self.block = None
        self.pending.append(self.pool.submit(self._write, start, block[:count]))
        while len(self.pending) > self.threads:
            self.pending.popleft().result()

    def _write(self, start: int, block: np.ndarray) -> None:
        for offset, frame in enumerate(block):
            index = self.first + start + offset
            check_frame(frame, index, self.source, allow_nan=index < self.allow_nan_before)
        if self.array.attrs.get("quantum"):
            block = np.round(block / QUANTUM) * QUANTUM  # exact: a multiple of a power of two
        self.array[start:start + len(block)] = block.astype(self.array.dtype)

    def finish(self) -> None:
        if self.block is not None:
            self._submit()
        while self.pending:
            self.pending.popleft().result()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.pool.shutdown(wait=True, cancel_futures=True)


@_quiet_codecs
def write_frames(
    path: str | Path,
    frames: Iterable[tuple[int, np.ndarray]],
    *,
    first: int,
    count: int,
    height: int,
    width: int,
    attrs: dict,
    storage: Storage = Storage(),
    on_frame=None,
    log_center_bias: np.ndarray | None = None,
    allow_nan_before: int = 0,
) -> None:
    """Write ``count`` frames (indices ``first``..) into a new store, atomically.

    ``frames`` yields ``(index, log_density)`` in order; the store's frame 0 is
    video frame ``first`` (recorded as attribute ``first_frame``). A missing,
    misplaced, wrongly sized or non-normalized frame is an error: no store
    appears (NaN frames are allowed before ``allow_nan_before``: the "skip"
    head policy). ``storage`` (``settings.Storage``): the dtype (one of
    ``STORE_DTYPES``), frames per shard file (assembly links the shards of
    chunk stores that start at a multiple of it) and writer threads (at least
    ``WRITE_THREADS``); ``log_center_bias``: the H x W log center bias the
    model used, stored beside the maps.
    """
    with StagedDir(path) as staged:
        array = create(staged.temp, count, height, width, {**attrs, "first_frame": first}, storage.dtype,
                       log_center_bias, storage.shard_frames)
        with _ShardWrites(array, storage.threads, source=path, first=first, allow_nan_before=allow_nan_before) as writes:
            expected = first
            for index, log_density in frames:
                if index != expected:
                    raise SalienceError(f"{path}: got frame {index} where frame {expected} was due")
                if np.shape(log_density) != (height, width):  # zarr would crop or pad it silently
                    raise SalienceError(f"{path}: frame {index} is {np.shape(log_density)}, not {(height, width)}")
                if index >= first + count:
                    raise SalienceError(f"{path}: got frame {index}, past the last frame {first + count - 1}")
                writes.put(index - first, log_density)
                expected += 1
                if on_frame is not None:
                    on_frame()
            if expected != first + count:
                raise SalienceError(
                    f"{path}: the video ended after frame {expected - 1}, before frame "
                    f"{first + count - 1}; its frame count is wrong or the file is truncated"
                )
            writes.finish()


def _open_group(path: str | Path) -> zarr.Group:
    try:
        return zarr.open_group(str(path), mode="r")
    except FileNotFoundError as error:
        raise SalienceError(f"{path} is not a saliency store: {error}") from error


@_quiet_codecs
def open_store(path: str | Path) -> zarr.Group:
    """An existing store's group, read only (nothing loaded), checked to hold a (T, H, W) ``log_density``.

    The one opener of every reader: chunk stores and saliency.zarr alike,
    quantized ones without zarr's codec warning.
    """
    try:
        group = zarr.open_group(os.fspath(path), mode="r")
        array = group[ARRAY]
    except (FileNotFoundError, KeyError) as error:
        raise SalienceError(
            f"{os.fspath(path)}: no saliency store with a '{ARRAY}' array here. Run the prediction step first."
        ) from error
    if not isinstance(array, zarr.Array) or array.ndim != 3:
        raise SalienceError(f"{os.fspath(path)}: '{ARRAY}' must be a (T, H, W) array, got {getattr(array, 'shape', 'a group')}")
    return group


def open_array(path: str | Path) -> zarr.Array:
    """The ``log_density`` array of an existing store (read only, nothing loaded)."""
    return open_store(path)[ARRAY]


READ_AHEAD = 4  # frames read (decompressed) ahead of their consumer


def read_frames_ahead(array: zarr.Array, indices: Iterable[int], ahead: int = READ_AHEAD):
    """Yield ``array[i]`` as float32 for each i, reading up to ``ahead`` frames in advance on a thread."""
    return map_ahead(lambda index: np.asarray(array[index], dtype=np.float32), indices, ahead=ahead,
                     name="salience-read")


# --------------------------------------------------------------------------- assembly


@_quiet_codecs
def assemble(
    chunk_paths: Iterable[str | Path],
    output: str | Path,
    *,
    frame_count: int,
    attrs: dict,
    dtype: str | None = None,
    timestamps: list[float] | None = None,
) -> None:
    """Join chunk stores into one store of ``frame_count`` frames, by linking their shard files.

    Chunks must tile ``[0, frame_count)`` exactly, start at multiples of their
    shard size and hold whole shards (all but the last), with one encoding
    (``dtype`` when given) and one log center bias. Their frames were checked
    when written; nothing is read or compressed again: the shard files are
    hard-linked into the new store (the chunk stores stay whole until they
    are deleted, so a killed assembly loses nothing). ``timestamps``: the
    frames' times in seconds (default: frame / ``attrs["fps"]``).
    """
    chunks = sorted(((_first(Path(p)), open_array(p), Path(p)) for p in chunk_paths),
                    key=lambda item: item[0])
    if not chunks:
        raise SalienceError(f"{output}: no chunks to assemble")
    _, reference, reference_path = chunks[0]
    metadata = _layout(reference)
    shard = reference.shards[0]
    if dtype is not None and _open_group(reference_path).attrs.get("store_dtype") != dtype:
        raise SalienceError(
            f"{reference_path}: stored as {_open_group(reference_path).attrs.get('store_dtype')}, "
            f"not {dtype} as asked: delete the chunk stores and run again (config 'store_dtype' changed?)"
        )
    expected = 0
    for first, array, path in chunks:
        if first != expected:
            raise SalienceError(
                f"{path}: chunk starts at frame {first} but frame {expected} is due; "
                "chunks must cover the video without gaps or overlaps"
            )
        if _layout(array) != metadata:
            raise SalienceError(f"{path}: its frame size, dtype, codecs or shards differ from {reference_path}'s")
        last = first + array.shape[0] == frame_count
        if first % shard or (array.shape[0] % shard and not last):
            raise SalienceError(
                f"{path}: frames [{first}, {first + array.shape[0]}) are not whole shards of {shard} frames; "
                "chunk_frames must be a multiple of shard_frames (config)"
            )
        expected = first + array.shape[0]
    if expected != frame_count:
        raise SalienceError(f"{output}: chunks cover {expected} frames, the video has {frame_count}")
    times = _times(frame_count, attrs, timestamps, output)
    log_center_bias = _common_center_bias([path for _, _, path in chunks])
    store_dtype = _open_group(reference_path).attrs.get("store_dtype", "float32")
    _, height, width = reference.shape

    with StagedDir(output) as staged:
        group = zarr.open_group(staged.temp, mode="w-", zarr_format=3)
        group.attrs.update({**attrs, "store_dtype": store_dtype})
        if log_center_bias is not None:
            write_center_bias(group, log_center_bias, height, width, output)
        _write_coordinates(group, times)
        # The array's metadata is the chunks' with the full length.
        document = json.loads((reference_path / ARRAY / "zarr.json").read_text())
        document["shape"] = [frame_count, height, width]
        os.makedirs(staged.file(ARRAY))
        with open(staged.file(f"{ARRAY}/zarr.json"), "w") as handle:
            json.dump(document, handle, indent=2)
        for first, _, path in chunks:
            _link_shards(path / ARRAY, Path(staged.file(ARRAY)), first // shard)
        with warnings.catch_warnings():  # "not part of the v3 specification": we know
            warnings.filterwarnings("ignore", message="Consolidated metadata")
            zarr.consolidate_metadata(staged.temp)


def remove_unplanned_chunks(chunks_dir: str | Path, planned: Iterable[str | Path]) -> list[str]:
    """Remove chunk stores in ``chunks_dir`` that are not ``planned`` (a changed chunk plan),
    and stale temporaries of killed jobs there; the paths removed."""
    chunks_dir = Path(chunks_dir)
    keep = {Path(p).resolve() for p in planned}
    removed = remove_stale_temporaries(str(chunks_dir))
    for entry in sorted(chunks_dir.glob("*.zarr")) if chunks_dir.is_dir() else []:
        if entry.resolve() not in keep and (entry / "zarr.json").is_file():
            shutil.rmtree(entry)
            removed.append(str(entry))
    return removed


def _layout(array: zarr.Array) -> dict:
    """An array's metadata except its length: what chunk stores must share."""
    document = array.metadata.to_dict()
    document.pop("shape")
    document.pop("attributes", None)
    if document.get("chunk_key_encoding") != {"name": "default", "configuration": {"separator": "/"}}:
        raise SalienceError(f"{array.store_path}: unexpected chunk key encoding {document.get('chunk_key_encoding')}")
    if not array.shards or array.shards[1:] != array.shape[1:] or array.chunks[0] != 1:
        raise SalienceError(f"{array.store_path}: not sharded by frames (chunks {array.chunks}, shards {array.shards})")
    return document


def _link_shards(source: Path, target: Path, offset: int) -> None:
    """Hard-link shard files ``c/i/0/0`` of ``source`` as ``c/(i + offset)/0/0`` in ``target``."""
    root = source / "c"
    if not root.is_dir():
        return  # no shard written: every frame is the fill value (NaN)
    for name in os.listdir(root):
        for rest, _, files in os.walk(root / name):
            for file in files:
                relative = os.path.relpath(os.path.join(rest, file), root / name)
                destination = target / "c" / str(int(name) + offset) / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(os.path.join(rest, file), destination)
                except OSError as error:
                    if error.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP):
                        raise
                    # A file system without hard links: a plain copy of the
                    # compressed bytes (still nothing decoded or compressed again).
                    shutil.copyfile(os.path.join(rest, file), destination)


def _times(frame_count: int, attrs: dict, timestamps, output) -> np.ndarray:
    if timestamps is not None:
        times = np.asarray(timestamps, dtype=np.float64)
        if times.shape != (frame_count,):
            raise SalienceError(f"{output}: {len(times)} timestamps for {frame_count} frames; probe the video again")
        return times
    fps = attrs.get("fps")
    if not fps:
        raise SalienceError(f"{output}: neither timestamps nor fps: the frames' times are unknown")
    return np.arange(frame_count, dtype=np.float64) / float(fps)


def _write_coordinates(group: zarr.Group, times: np.ndarray) -> None:
    count = len(times)
    frame = group.create_array("frame", shape=(count,), chunks=(max(count, 1),), dtype="int64",
                               dimension_names=("frame",), compressors=[ZstdCodec(level=3)],
                               attributes={"long_name": "frame index in the video"})
    frame[:] = np.arange(count)
    time = group.create_array("time", shape=(count,), chunks=(max(count, 1),), dtype="float64",
                              dimension_names=("frame",), compressors=[ZstdCodec(level=3)],
                              attributes={"long_name": "time of the frame on the video's timeline (0: its first frame)",
                                          "units": "s"})
    time[:] = times


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
        return int(_open_group(path).attrs["first_frame"])
    except KeyError as error:
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
    # float32 exponentials, float64 sum: rounding far below the tolerance
    total = peak + float(np.log(np.exp(frame.astype(np.float32) - np.float32(peak)).sum(dtype=np.float64)))
    if abs(total) > 1e-3:
        raise SalienceError(f"{source}: frame {index} is not a normalized log-density (logsumexp {total:.4g})")
