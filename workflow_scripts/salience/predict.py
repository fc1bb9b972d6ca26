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

Speed (:class:`Tuning`): frames are decoded and stacked on a background
thread while the model runs; the model runs channels-last; on CUDA the frames
travel as uint8 from page-locked memory, cuDNN autotunes, and the GPU
computes the next micro-batch while the caller writes the last one's maps.
``dtype="bf16"`` runs the backbone in bfloat16 (on CPUs with AVX512-BF16 too).
``benchmarks/bench_speed.py`` measures each lever.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .device import resolve_device
from .errors import ConfigError, SalienceError
from .models.description import HEAD_POLICIES, PRECISION_NAMES
from .models.interface import WindowModel, model_kind
from .background import BackgroundIterator
from .settings import Prediction

log = logging.getLogger(__name__)

PRECISIONS = dict(zip(PRECISION_NAMES, (torch.float32, torch.bfloat16, torch.float16), strict=True))


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


@dataclass(frozen=True)
class Tuning:
    """Speed levers of :func:`iter_log_density`; none changes which frames come out.

    ``prefetch``: micro-batches decoded ahead on a background thread (0: decode
    inline). ``channels_last``: run the model in NHWC layout, which oneDNN and
    cuDNN convolutions prefer. ``pin_memory``, ``overlap_output``,
    ``cudnn_benchmark`` and ``allow_tf32`` act on CUDA only: page-locked
    host buffers for asynchronous copies; the next micro-batch is queued on
    the GPU before the last one's maps are handed out, so the device keeps
    working while the caller writes; cuDNN picks its fastest kernels for the
    frame size; TF32 tensor cores for "fp32" convolutions (off by default:
    "fp32" means float32 exactly; choose "bf16" for speed). ``compile``:
    ``torch.compile`` the per-frame feature extractor (DeepGaze MR's
    ``encode``); the first micro-batch then takes 10-60 s longer.
    ``benchmarks/bench_speed.py`` measures each lever.
    """

    prefetch: int = 2
    channels_last: bool = True
    pin_memory: bool = True
    overlap_output: bool = True
    cudnn_benchmark: bool = True
    allow_tf32: bool = False
    compile: bool = False


def _check_frame(frame) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3:
        described = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"frames must be H x W x 3 uint8 RGB, got {described}")


def _host_batches(frames: Iterable[np.ndarray], batch_size: int, pin: bool) -> Iterator[torch.Tensor]:
    """Micro-batches of frames as N x H x W x 3 uint8 tensors on the host.

    ``pin``: stacked straight into page-locked memory, from which the copy to
    the GPU runs asynchronously (one copy of each frame on the host, not two).
    """
    try:
        for batch in _batches(frames, batch_size):
            for frame in batch:
                _check_frame(frame)
            if pin:
                host = torch.empty((len(batch), *batch[0].shape), dtype=torch.uint8, pin_memory=True)
                np.stack(batch, out=host.numpy())
            else:
                host = torch.from_numpy(np.stack(batch))
            yield host
    finally:
        # A consumer that stops early releases the video file now, not whenever
        # the reader is garbage-collected.
        close = getattr(frames, "close", None)
        if close is not None:
            close()


@contextlib.contextmanager
def _cudnn_tf32(allowed: bool):
    """cuDNN convolutions with or without TF32 tensor cores, restored on exit.

    The legacy switch: setting the newer per-operator ``fp32_precision`` makes
    any later read of ``torch.backends.cudnn.allow_tf32`` (other code, torch
    itself) raise about a mix of the two APIs; the legacy setter keeps both
    readable.
    """
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = allowed
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = before


class _Compute:
    """Everything one micro-batch's computation runs under (no yields inside).

    Entered and left around each batch, so no grad mode, autocast or cuDNN
    setting leaks into the caller's code between the maps handed out.
    """

    def __init__(self, device: torch.device, dtype: torch.dtype, tuning: Tuning):
        self.device, self.dtype, self.tuning = device, dtype, tuning

    @contextlib.contextmanager
    def __call__(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.inference_mode())
            if self.device.type == "cuda":
                stack.enter_context(_cudnn_tf32(self.tuning.allow_tf32))
            yield

    def backbone(self):
        """Reduced precision for the backbone only; readout and finalizer stay float32."""
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)


class _Emitted:
    """One micro-batch's log-densities, on their way to the host.

    On CUDA the copy to page-locked memory is queued behind the computation
    (one copy per micro-batch) and waited for only when the maps are handed
    out, by which time the next micro-batch is already queued on the GPU.
    """

    def __init__(self, first_index: int, maps: torch.Tensor, pin: bool):
        self.first_index = first_index
        self.ready = None
        if maps.device.type == "cpu":
            self.maps = maps
        elif pin:
            self.maps = torch.empty(maps.shape, dtype=maps.dtype, pin_memory=True)
            self.maps.copy_(maps, non_blocking=True)
            self.ready = torch.cuda.Event()
            self.ready.record()
        else:
            self.maps = maps.cpu()

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        if self.ready is not None:
            self.ready.synchronize()
            # Plain memory out: callers may keep maps for long, and page-locked
            # memory is scarce; the pinned block goes back to torch's cache.
            maps = self.maps.numpy().copy()
        else:
            maps = self.maps.numpy()
        for offset, log_density in enumerate(maps):
            yield self.first_index + offset, log_density


_NOTHING_EMITTED: tuple = ()


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
    tuning: Tuning | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, log_density)`` for every frame of ``frames``.

    ``frames``: an iterable of H x W x 3 uint8 RGB arrays, the video's frames
    from index ``start_index`` on. ``center_bias``: H x W probability map
    or a loaded :class:`~salience.models.center_bias.CenterBias` (default:
    the model's own, uniform unless set). ``head`` sets the first 15 frames of a video
    for DeepGaze MR: "partial" (mean over the frames that exist), "pad"
    (frame 0 repeated to fill the window) or "skip" (NaN maps). Frames before
    ``emit_from`` (default ``start_index``) only warm the window up; a run that
    starts inside a video (``start_index > 0``) needs 15 warm-up frames.
    ``dtype``: precision of the backbone ("fp32", "bf16", "fp16"); the readout
    and finalizer always run in float32. ``tuning``: speed levers
    (:class:`Tuning`; the defaults suit both CPU and GPU).
    """
    if head not in HEAD_POLICIES:
        raise ValueError(f"head policy {head!r} unknown; choose one of {', '.join(HEAD_POLICIES)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    tuning = Tuning() if tuning is None else tuning
    emit_from = start_index if emit_from is None else emit_from
    kind = model_kind(model)
    window = model.window_length
    if start_index > 0 and emit_from - start_index < window - 1:
        raise ValueError(
            f"a run starting at frame {start_index} needs {window - 1} warm-up frames "
            f"before its first emitted frame, but emit_from={emit_from}"
        )
    device = resolve_device(device)
    dtype = resolve_dtype(dtype)
    if dtype == torch.float16 and device.type == "cpu":
        log.warning("fp16 on the CPU runs on slow fallback kernels (up to 30x slower than fp32, "
                    "measured with torch 2.14); bf16 is the fast reduced precision there")
    on_cuda = device.type == "cuda"
    model = model.to(device).eval()
    if tuning.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if on_cuda:
        # One frame size per run: cuDNN's search for the fastest kernels pays off.
        torch.backends.cudnn.benchmark = tuning.cudnn_benchmark
    compute = _Compute(device, dtype, tuning)
    stream = _MeanWindowStream if kind is WindowModel else _PerFrameStream
    runner = stream(model, center_bias, head, device, compute, start_index, emit_from)
    if tuning.compile:
        runner.compile(batch_size)

    batches = _host_batches(frames, batch_size, pin=on_cuda and tuning.pin_memory)
    with contextlib.closing(BackgroundIterator(batches, tuning.prefetch) if tuning.prefetch else iter(batches)) as batches:
        if on_cuda and tuning.overlap_output:
            yield from _overlapped(runner, batches, device, tuning)
        else:
            for host_batch in batches:
                yield from runner.step(_to_device(host_batch, device, tuning))


def _to_device(host_batch: torch.Tensor, device: torch.device, tuning: Tuning) -> torch.Tensor:
    """N x H x W x 3 uint8 → N x 3 x H x W float32 in [0, 1] on ``device``.

    The uint8 frames travel to the device and are scaled there: 4x less to
    copy. Permuting an N x H x W x 3 tensor gives the channels-last layout
    for free; ``.contiguous()`` undoes it when the model runs NCHW.
    """
    frames = host_batch.to(device, non_blocking=True).permute(0, 3, 1, 2)
    if not tuning.channels_last:
        frames = frames.contiguous()
    return frames.float().div_(255.0)


def _overlapped(runner, batches, device, tuning) -> Iterator[tuple[int, np.ndarray]]:
    """CUDA: queue micro-batch k+1 on the GPU before handing out the maps of k.

    Kernel launches return at once, so the GPU computes the next batch while
    the caller writes the previous one. Errors keep their place in the
    stream: the maps of the batches before a failing one come out first.
    """
    pending = _NOTHING_EMITTED
    iterator = iter(batches)
    while True:
        try:
            host_batch = next(iterator)
        except StopIteration:
            break
        except Exception:
            yield from pending
            raise
        try:
            launched = runner.launch(_to_device(host_batch, device, tuning), pin=tuning.pin_memory)
        except Exception:
            yield from pending
            raise
        yield from pending
        pending = launched
    yield from pending


class _Stream:
    """Shared by the two streams: center bias, emission, optional compile."""

    def __init__(self, model, center_bias, head, device, compute, start_index, emit_from):
        self.model, self.head, self.device, self.compute = model, head, device, compute
        self.center_bias = center_bias
        self.next_index = start_index  # video index of the next frame to come
        self.emit_from = emit_from
        self.log_cb = None

    def _log_cb(self, frames: torch.Tensor) -> torch.Tensor:
        if self.log_cb is None:
            self.log_cb = self.model.log_center_bias(*frames.shape[-2:], self.center_bias).to(self.device)
        return self.log_cb

    def compile(self, batch_size: int) -> None:
        log.warning("torch.compile is not supported for %s; running eagerly", type(self.model).__name__)

    def step(self, frames: torch.Tensor) -> Iterator[tuple[int, np.ndarray]]:
        yield from self.launch(frames, pin=False)

    def launch(self, frames: torch.Tensor, pin: bool):
        """Queue one micro-batch; an iterable of its ``(index, map)`` pairs."""
        with self.compute():
            emitted = self._compute(frames)
            return _NOTHING_EMITTED if emitted is None else _Emitted(*emitted, pin=pin)


class _PerFrameStream(_Stream):
    """Per-frame models: log-density of each frame from that frame alone."""

    def _compute(self, frames: torch.Tensor):
        log_cb = self._log_cb(frames)
        skip = max(0, self.emit_from - self.next_index)  # warm-up frames: none needed here
        self.next_index += min(skip, len(frames))
        frames = frames[skip:]
        if not len(frames):
            return None
        first = self.next_index
        with self.compute.backbone():
            out = self.model.predict_frames(frames, log_cb, first_index=first)
        self.next_index += len(out)
        return first, out.float()


_WARM_UP = object()  # marks frames that only feed later windows


class _MeanWindowStream(_Stream):
    """DeepGaze MR: features once per frame, the last 15 carried over."""

    def __init__(self, *args):
        super().__init__(*args)
        self.window = self.model.window_length
        self.carry = None  # features of the (up to) window-1 frames before next_index
        self.encode = self.model.encode
        self.pad_to = None  # compiled: every batch padded to this size (one graph)

    def compile(self, batch_size: int) -> None:
        # Static shapes: the last, shorter micro-batch is padded to batch_size
        # rather than compiled a second time (which costs as much as the first).
        self.encode = torch.compile(self.model.encode, dynamic=False)
        self.pad_to = batch_size

    def _features(self, frames: torch.Tensor) -> torch.Tensor:
        count = len(frames)
        if self.pad_to is not None and count < self.pad_to:
            frames = torch.cat([frames, frames[-1:].expand(self.pad_to - count, *frames.shape[1:])])
        with self.compute.backbone():
            features = self.encode(frames)[:count]
        return features.float()  # the mean and the readout run in float32

    def _compute(self, frames: torch.Tensor):
        log_cb = self._log_cb(frames)
        features = self._features(frames)
        first = self.next_index
        if self.carry is None and self.head == "pad" and first == 0:
            # The reference's padded clip: frame 0 repeated before the video.
            self.carry = features[:1].expand(self.window - 1, *features.shape[1:])
        stack = features if self.carry is None else torch.cat([self.carry, features])
        offset = len(stack) - len(features)  # position of frame `first` in stack

        windows = []
        for k in range(len(features)):
            have = offset + k + 1  # maps available up to and including this frame
            if first + k < self.emit_from:
                windows.append(_WARM_UP)
            elif have >= self.window:
                windows.append(stack[have - self.window : have])
            elif self.head == "partial":
                windows.append(stack[:have])
            else:  # "skip": no full window yet
                windows.append(None)
        self.carry = stack[-(self.window - 1):].clone()
        self.next_index = first + len(features)
        emitted = [k for k, w in enumerate(windows) if w is not _WARM_UP]  # a suffix of the batch
        if not emitted:
            return None
        return first + emitted[0], self._decode([windows[k] for k in emitted], log_cb)

    def _decode(self, windows: list, log_cb: torch.Tensor) -> torch.Tensor:
        """The log-densities of ``windows`` as one B x H x W tensor (NaN for no window)."""
        out = torch.full((len(windows), *log_cb.shape), math.nan, device=log_cb.device)
        # Windows fill up as a video goes on: the full ones are a suffix.
        first_full = next((i for i, w in enumerate(windows) if w is not None and len(w) == self.window),
                          len(windows))
        if first_full < len(windows):
            # Full windows of a micro-batch are averaged and read out together,
            # written through a slice (an index list would cost a host-to-GPU copy).
            means = torch.stack([w.mean(dim=0) for w in windows[first_full:]])
            out[first_full:] = self.model.decode(means, log_cb)
        for i, w in enumerate(windows[:first_full]):
            if w is not None:  # the "partial" head
                out[i] = self.model.decode(w.mean(dim=0, keepdim=True), log_cb)[0]
        return out


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
    model_kind(model)
    warm_up = model.window_length - 1
    first = max(0, start - warm_up)
    frames = read_frames(video_path, first, stop)
    yield from iter_log_density(model, frames, start_index=first, emit_from=start, **options)


class Progress:
    """Logs tqdm's progress line (frames done, frames/s, time left) every ``every_s`` seconds.

    One log line each time, not a live bar: the job logs are files, where a
    bar's carriage-return redraws would pile up on one line.
    """

    def __init__(self, total: int, label: str, every_s: float = 10.0):
        self.total, self.label, self.every_s = total, label, every_s
        self.done = 0
        self.started = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        from tqdm import tqdm

        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every_s or self.done == self.total:
            self.last = now
            log.info("%s", tqdm.format_meter(self.done, self.total, now - self.started, unit="frame",
                                             prefix=self.label, ascii=True, ncols=80))


# --------------------------------------------------------------------------- the prediction job


def predict_job(video, output, *, weights_record=None, untrained: str | None = None, probe_path=None,
                start: int = 0, stop: int | None = None, options: Prediction = Prediction()) -> None:
    """Predict frames ``[start, stop)`` of ``video`` into the chunk store ``output`` (the predict_chunk job).

    ``weights_record``: the record of the download step (its files checked
    against their sha256), or ``untrained``: a model name, random weights
    and a uniform center bias (tests, benchmarks). ``probe_path``: the
    video's probe.json (frames found by their timestamps); without, the
    video is probed here (one full decode).
    """
    from . import store, weights
    from .device import out_of_memory_message
    from .video import load_probe, probe

    # First: a job given a GPU that it cannot use stops here, in seconds.
    device = resolve_device(options.device)
    if weights_record:
        record = weights.read_record(weights_record)
    elif untrained:
        record = weights.resolve(untrained, "untrained", "uniform")
    else:
        raise SalienceError("predict needs --weights-record (written by 'python -m salience download') "
                            "or --weights untrained")
    if options.threads:
        torch.set_num_threads(options.threads)
    info = load_probe(probe_path) if probe_path else probe(video)
    stop = info.frame_count if stop is None else stop
    if not 0 <= start < stop <= info.frame_count:
        raise SalienceError(f"{video}: frames [{start}, {stop}) are not within its {info.frame_count} frames")
    model, center_bias = load_for_prediction(record)
    configure_model_options(model, record["model"], options.scale, options.fixation_history)
    progress = Progress(stop - start, f"{Path(video).name} [{start}, {stop})")
    # What the prediction adds to every frame (the stream computes the same
    # call): stored beside the maps for metrics and plots.
    log_center_bias = model.log_center_bias(info.height, info.width, center_bias).float().numpy()
    frames = predict_range(model, info, start, stop, center_bias=center_bias, head=options.head,
                           batch_size=options.batch_size, device=device, dtype=options.precision)
    attrs = {
        "model": record["model"], "weights": record["weights"], "head": options.head,
        "center_bias": record["center_bias"], "weights_sha256": record["weights_sha256"],
        "precision": options.precision, "start": start, "stop": stop, "fps": info.fps,
        "source": str(video), "scale": options.scale, "fixation_history": options.fixation_history,
    }
    try:
        store.write_frames(output, frames, first=start, count=stop - start, height=info.height, width=info.width,
                           attrs=attrs, storage=options.storage, on_frame=progress.update,
                           log_center_bias=log_center_bias,
                           allow_nan_before=nan_head(record["model"], options.head))
    except torch.cuda.OutOfMemoryError:
        # write_frames removed its half-written store on the way out.
        raise SalienceError(out_of_memory_message(device, options.batch_size, info.width, info.height)) from None


def configure_model_options(model, name: str, scale: float, fixation_history: str) -> None:
    """``scale`` and ``fixation_history`` go to the models they apply to (the registry says which)."""
    from .models import describe

    description = describe(name)
    if not description.applies("scale"):
        if scale != 1.0:
            raise ConfigError(f"'scale' does not apply to {name}, which runs at full resolution "
                              "(set scale: 1.0)")
    elif not 0 < scale <= 4:
        raise ConfigError(f"'scale' must be in (0, 4], got {scale}")
    else:
        model.scale = scale
    if description.applies("fixation_history"):
        from .models.per_frame import FixationHistory

        model.fixation_history = FixationHistory(fixation_history)


def load_for_prediction(record: dict):
    """The model and center bias a weights record names (files already checked)."""
    from .models import build_model
    from .models.center_bias import UNIFORM, load_center_bias

    files = record["files"]
    model = build_model(record["model"], weights=files["checkpoint"]["path"] if "checkpoint" in files else None)
    center_bias = UNIFORM
    if "center_bias" in files:
        center_bias = load_center_bias(files["center_bias"]["path"], files["center_bias"]["format"])
    return model, center_bias


def nan_head(model: str, head: str) -> int:
    """Frames left NaN at the start of a video: the "skip" head has no full window there."""
    from .models import describe

    return describe(model).temporal_window - 1 if head == "skip" else 0
