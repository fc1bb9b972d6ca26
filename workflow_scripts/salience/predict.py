"""Streaming prediction: any video length in memory bounded by frame size.

DeepGaze MR averages the VGG19 features of the current and 15 past frames.
Each frame's features are computed once, in micro-batches, and kept only as
long as a later window needs them: the last 15 maps carry over from one
micro-batch to the next. No tensor ever holds the whole video.

Per-frame models (DeepGaze IIE and III) have a window of one frame and need
no carry-over.

Exact chunks: :func:`predict_range` predicts frames ``[start, stop)`` of a
video file by decoding from ``start - 15`` (the warm-up) and emitting only
``[start, stop)``. Each window is averaged in frame order, whatever frame the
run started at, so chunked runs equal one sequential run up to float rounding.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

HEAD_POLICIES = ("partial", "pad", "skip")
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/"auto": a GPU torch sees, else the CPU (with a warning).

    Under SLURM a job sees only the GPU it was given. On a workstation with
    several GPUs, jobs running side by side each claim a different one
    through a lock file (see :func:`claim_free_gpu`).
    """
    if device is None or str(device) == "auto":
        if not torch.cuda.is_available():
            log.warning("no GPU visible (CUDA_VISIBLE_DEVICES=%s): predicting on the CPU, "
                        "which is 50-100x slower", os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"))
            return torch.device("cpu")
        count = torch.cuda.device_count()
        return torch.device("cuda", claim_free_gpu(count) if count > 1 else 0)
    return torch.device(device)


_CLAIMED_GPU = {}  # index -> open lock file, held for the life of the process


def claim_free_gpu(count: int, wait_s: float = 600.0) -> int:
    """Index of a GPU no other salience process on this machine holds.

    Each GPU has a lock file (``$SALIENCE_GPU_LOCKS``, default
    ``/tmp/salience-gpu-locks``); the kernel releases a lock when its process
    ends, so a killed job frees its GPU. Waits up to ``wait_s`` for a free one.
    """
    if _CLAIMED_GPU:
        return next(iter(_CLAIMED_GPU))
    import fcntl

    folder = Path(os.environ.get("SALIENCE_GPU_LOCKS", "/tmp/salience-gpu-locks"))
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    while True:
        for index in range(count):
            handle = open(folder / f"gpu{index}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            _CLAIMED_GPU[index] = handle
            log.info("using GPU %d of %d (lock %s)", index, count, handle.name)
            return index
        if time.monotonic() > deadline:
            log.warning("all %d GPUs are held by other jobs; sharing GPU 0", count)
            return 0
        time.sleep(2.0)


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return PRECISIONS[dtype]
    except KeyError:
        raise ValueError(f"precision {dtype!r} unknown; choose one of {', '.join(PRECISIONS)}") from None


def _batches(frames: Iterable[np.ndarray], batch_size: int) -> Iterator[list[np.ndarray]]:
    batch = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _to_tensor(batch: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """H x W x 3 uint8 RGB frames → N x 3 x H x W float32 in [0, 1] on ``device``.

    The uint8 frames travel to the device and are scaled there: 4x less to copy.
    """
    array = np.stack(batch)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"frames must be H x W x 3 uint8 RGB, got {array.dtype} {array.shape[1:]}")
    tensor = torch.from_numpy(array).to(device, non_blocking=True)
    return tensor.permute(0, 3, 1, 2).float().div_(255.0)


def iter_log_density(
    model,
    frames: Iterable[np.ndarray],
    *,
    center_bias=None,
    head: str = "partial",
    batch_size: int = 4,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    start_index: int = 0,
    emit_from: int | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, log_density)`` for every frame of ``frames``.

    ``frames``: an iterable of H x W x 3 uint8 RGB arrays, the video's frames
    from index ``start_index`` on. ``center_bias``: H x W probability map
    (default: the model's own). ``head`` sets the first 15 frames of a video
    for DeepGaze MR: "partial" (mean over the frames that exist), "pad"
    (frame 0 repeated to fill the window) or "skip" (NaN maps). Frames before
    ``emit_from`` (default ``start_index``) only warm the window up; a run that
    starts inside a video (``start_index > 0``) needs 15 warm-up frames.
    ``dtype``: precision of the backbone ("fp32", "bf16", "fp16"); the readout
    and finalizer always run in float32.
    """
    if head not in HEAD_POLICIES:
        raise ValueError(f"head policy {head!r} unknown; choose one of {', '.join(HEAD_POLICIES)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    emit_from = start_index if emit_from is None else emit_from
    window = getattr(model, "window_length", 1)
    if start_index > 0 and emit_from - start_index < window - 1:
        raise ValueError(
            f"a run starting at frame {start_index} needs {window - 1} warm-up frames "
            f"before its first emitted frame, but emit_from={emit_from}"
        )
    device = resolve_device(device)
    dtype = resolve_dtype(dtype)
    model = model.to(device).eval()
    autocast = (
        torch.autocast(device.type, dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext()
    )
    stream = _MeanWindowStream if window > 1 else _PerFrameStream
    with torch.inference_mode():
        runner = stream(model, center_bias, head, device, autocast, start_index, emit_from)
        for batch in _batches(frames, batch_size):
            yield from runner.step(_to_tensor(batch, device))


class _PerFrameStream:
    """Per-frame models: log-density of each frame from that frame alone."""

    def __init__(self, model, center_bias, head, device, autocast, start_index, emit_from):
        self.model, self.device, self.autocast = model, device, autocast
        self.center_bias = center_bias
        self.next_index = start_index
        self.emit_from = emit_from
        self.log_cb = None

    def step(self, frames: torch.Tensor):
        if self.log_cb is None:
            self.log_cb = self.model.log_center_bias(*frames.shape[-2:], self.center_bias).to(self.device)
        skip = max(0, self.emit_from - self.next_index)  # warm-up frames: none needed here
        self.next_index += min(skip, len(frames))
        frames = frames[skip:]
        if not len(frames):
            return
        with self.autocast:
            out = self.model.predict_frames(frames, self.log_cb, first_index=self.next_index)
        out = out.float().cpu().numpy()
        for offset, log_density in enumerate(out):
            yield self.next_index + offset, log_density
        self.next_index += len(out)


_WARM_UP = object()  # marks frames that only feed later windows


class _MeanWindowStream:
    """DeepGaze MR: features once per frame, the last 15 carried over."""

    def __init__(self, model, center_bias, head, device, autocast, start_index, emit_from):
        self.model, self.head, self.device, self.autocast = model, head, device, autocast
        self.emit_from = emit_from
        self.center_bias = center_bias
        self.window = model.window_length
        self.next_index = start_index  # video index of the next frame to come
        self.carry = None  # features of the (up to) window-1 frames before next_index
        self.log_cb = None

    def step(self, frames: torch.Tensor):
        if self.log_cb is None:
            self.log_cb = self.model.log_center_bias(*frames.shape[-2:], self.center_bias).to(self.device)
        with self.autocast:
            features = self.model.encode(frames)
        features = features.float()  # the mean and the readout run in float32
        first = self.next_index
        if self.carry is None and self.head == "pad" and first == 0:
            # The reference's padded clip: frame 0 repeated before the video.
            self.carry = features[:1].expand(self.window - 1, *features.shape[1:])
        stack = features if self.carry is None else torch.cat([self.carry, features])
        offset = len(stack) - len(features)  # position of frame `first` in stack

        outputs = []
        for k in range(len(features)):
            have = offset + k + 1  # maps available up to and including this frame
            if first + k < self.emit_from:
                outputs.append(_WARM_UP)
            elif have >= self.window:
                outputs.append(stack[have - self.window : have])
            elif self.head == "partial":
                outputs.append(stack[:have])
            else:  # "skip": no full window yet
                outputs.append(None)
        yield from self._decode(first, outputs)
        self.carry = stack[-(self.window - 1):].clone()
        self.next_index = first + len(features)

    def _decode(self, first: int, windows: list):
        full = [i for i, w in enumerate(windows)
                if w is not None and w is not _WARM_UP and len(w) == self.window]
        results: dict[int, np.ndarray] = {}
        if full:
            # Full windows of a micro-batch are averaged and read out together.
            means = torch.stack([windows[i].mean(dim=0) for i in full])
            for i, out in zip(full, self.model.decode(means, self.log_cb).cpu().numpy()):
                results[i] = out
        for i, w in enumerate(windows):
            if i in results or w is _WARM_UP:
                continue
            if w is None:
                results[i] = np.full(tuple(self.log_cb.shape), np.nan, dtype=np.float32)
            else:
                results[i] = self.model.decode(w.mean(dim=0, keepdim=True), self.log_cb)[0].cpu().numpy()
        for i in sorted(results):
            yield first + i, results[i]


def predict_range(
    model,
    video_path,
    start: int,
    stop: int,
    **options,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, log_density)`` for frames ``[start, stop)`` of a video file.

    Decoding begins ``window - 1`` frames before ``start`` (or at frame 0) so
    that every emitted frame sees the same window as in a sequential run.
    ``options`` go to :func:`iter_log_density`.
    """
    from .video import read_frames

    if not 0 <= start < stop:
        raise ValueError(f"frame range [{start}, {stop}) is empty or negative")
    warm_up = getattr(model, "window_length", 1) - 1
    first = max(0, start - warm_up)
    frames = read_frames(video_path, first, stop)
    yield from iter_log_density(model, frames, start_index=first, emit_from=start, **options)


class Progress:
    """Logs frames done and frames/s every ``every_s`` seconds (job logs)."""

    def __init__(self, total: int, label: str, every_s: float = 10.0):
        self.total, self.label, self.every_s = total, label, every_s
        self.done = 0
        self.started = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every_s or self.done == self.total:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else math.inf
            log.info("%s: %d/%d frames, %.2f frames/s, %.0f s left",
                     self.label, self.done, self.total, rate, eta)
