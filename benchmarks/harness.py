"""Shared pieces of the benchmarks: frame sources, the reference strategy, isolation.

Every measurement runs in a fresh process (``run_isolated``) so that its peak
memory is its own: ``ru_maxrss`` only ever grows, and torch's allocators keep
what they once took.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def parse_size(text: str) -> tuple[int, int]:
    """"320x180" → (width, height)."""
    width, height = (int(part) for part in text.lower().split("x"))
    return width, height


def parse_list(text: str, convert=str) -> list:
    return [convert(part) for part in text.split(",") if part.strip()]


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> float:
    """Restart the peak-RSS count at the current RSS (Linux ``clear_refs``); that level, MiB.

    So that a transient before the measurement (building weights in float64)
    does not hide the measurement's own peak. Where the kernel refuses, the
    peak is left as it was.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass
    return peak_rss_mib()


def synthetic_frames(count: int, width: int, height: int, seed: int = 0):
    """``count`` H x W x 3 uint8 frames made one at a time (a noise image drifting right).

    Nothing but the current frame exists at any time, as when decoding.
    """
    base = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    for index in range(count):
        yield np.roll(base, shift=3 * index, axis=1)


def prepare_video(path: Path, frames: int, width: int, height: int, fps: int = 25,
                  source: str | None = None) -> Path:
    """An H.264 file of ``frames`` frames at ``width`` x ``height``, made with PyAV.

    From ``source`` (a real video, scaled, looped when it is shorter), or
    else FFmpeg's testsrc2 pattern (with motion). PyAV, not an ffmpeg binary:
    the GPU machine has no ffmpeg, and PyAV travels there anyway.
    """
    import itertools
    from fractions import Fraction

    import av

    from salience.video import probe

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "18"}
        for index, frame in enumerate(itertools.islice(_pattern_or_source(source, width, height, fps), frames)):
            frame.pts, frame.time_base = index, Fraction(1, fps)  # the source's own times do not apply
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    made = probe(path).frame_count
    if made != frames:
        raise SystemExit(f"{path}: made {made} frames, not {frames}")
    return path


def _pattern_or_source(source, width: int, height: int, fps: int):
    """Endless av.VideoFrames: ``source`` scaled and looped, or testsrc2 at that size."""
    import av

    if source is None:
        with av.open(f"testsrc2=size={width}x{height}:rate={fps}", format="lavfi") as pattern:
            yield from pattern.decode(video=0)
        return
    while True:
        with av.open(str(source)) as video:
            for frame in video.decode(video=0):
                yield frame.reformat(width=width, height=height, format="yuv420p")


def build_untrained_model(device):
    """The seeded untrained DeepGaze MR (nothing downloaded), on ``device``, eval mode."""
    from salience.models import build_model

    return build_model("deepgaze_mr").to(device).eval()


def build_recipe_model(device, seed: int):
    """DeepGaze MR with the golden fixtures' recipe weights (tests/helpers/recipe.py), on ``device``."""
    from salience.models import build_model

    if str(REPO / "tests") not in sys.path:
        sys.path.insert(0, str(REPO / "tests"))
    from helpers.recipe import fill_with_recipe

    model = build_model("deepgaze_mr")
    fill_with_recipe(model, seed)
    return model.to(device).eval()


def available_host_bytes() -> int:
    """MemAvailable of /proc/meminfo (what can be allocated without swapping)."""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def autocast_for(device, dtype):
    import torch

    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def reference_strategy(model, video, log_center_bias, dtype):
    """Yield (index, H x W log-density on the host) as the reference ``predict()`` does.

    Mimics ``deepgazemr.model.DeepGazeMR.predict``: ``video`` is the whole
    video, one T x 3 x H x W float tensor resident on the model's device;
    frames 0..15 go through VGG19 as one batch, then each later frame alone
    overwrites the oldest slot of a 16-slot feature ring buffer; every map is
    read out from the mean of the buffer (order does not matter to a mean) and
    copied to the host one frame at a time, as a caller saving it would.
    Frames 0..14 have no full window and no map (the reference yields None).
    """
    import torch

    window = model.window_length
    device = video.device
    autocast = autocast_for(device, dtype)
    buffer = None
    slot = 0
    with torch.inference_mode():
        for index in range(video.shape[0]):
            if index < window - 1:
                continue
            with autocast:
                if buffer is None:
                    buffer = model.encode(video[0:window]).float()
                else:
                    buffer[slot] = model.encode(video[index:index + 1])[0].float()
                    slot = (slot + 1) % window
            log_density = model.decode(buffer.mean(dim=0, keepdim=True), log_center_bias)[0]
            yield index, log_density.cpu().numpy()


def video_tensor(frames, count: int, width: int, height: int, device):
    """The whole video as one T x 3 x H x W float32 tensor in [0, 1] on ``device``.

    Filled frame by frame into a preallocated tensor: the most frugal way to
    hold a whole video (no list of frames, no uint8 copy of the video).
    """
    import torch

    video = torch.empty((count, 3, height, width), dtype=torch.float32, device=device)
    for index, frame in enumerate(frames):
        video[index] = torch.from_numpy(frame).to(device).permute(2, 0, 1).float().div_(255.0)
    return video


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


class DeviceMemory:
    """Peak device memory above the level when :meth:`start` was called (CUDA only)."""

    def __init__(self, device):
        self.device = device
        self.base = 0

    def start(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)

    def peak_mib(self) -> tuple[float, float] | tuple[None, None]:
        """(peak allocated, peak minus the level at start), MiB."""
        import torch

        if self.device.type != "cuda":
            return None, None
        torch.cuda.synchronize(self.device)
        peak = torch.cuda.max_memory_allocated(self.device)
        return peak / MIB, (peak - self.base) / MIB


def set_threads(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


def _child(connection, function, kwargs) -> None:
    try:
        connection.send(("ok", function(**kwargs)))
    except BaseException:  # noqa: BLE001 - the parent reports it
        connection.send(("error", traceback.format_exc()))
    finally:
        connection.close()


def run_isolated(function, timeout_s: float | None = None, **kwargs) -> dict:
    """``function(**kwargs)`` in a fresh spawned process; its return value (picklable).

    A failure in the child comes back as RuntimeError with the child's traceback.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, function, kwargs))
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout_s):
            raise TimeoutError(f"{function.__name__} took longer than {timeout_s} s")
        status, value = receiver.recv()
    except EOFError:
        status, value = "error", f"the child process died (exit code {process.exitcode})"
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()
    if status != "ok":
        raise RuntimeError(f"{function.__name__} failed in its child process:\n{value}")
    return value


def best_of(repeats: int, measure) -> dict:
    """``measure()`` run ``repeats`` times: the best frames/s and setup time, the highest memory.

    Frames/s on a shared machine only ever lose to other load, so the best run
    is the closest to the code's own speed; memory does not vary that way.
    """
    results = [measure() for _ in range(max(1, repeats))]
    combined = dict(results[0])
    combined["fps"] = max(r["fps"] for r in results)
    for key in ("setup_s", "load_s"):
        values = [r[key] for r in results if r.get(key) is not None]
        if values:
            combined[key] = min(values)
    for key in ("rss_peak", "rss_delta", "device_peak", "device_delta"):
        values = [r[key] for r in results if r.get(key) is not None]
        if values:
            combined[key] = max(values)
    return combined


def fp32_means_fp32(device, dtype) -> None:
    """For the reference strategy on CUDA: no TF32 in "fp32" convolutions.

    torch lets cuDNN use TF32 by default; salience's fp32 path turns it off,
    so the reference must too for the two to do the same arithmetic.
    """
    import torch

    if device.type == "cuda" and dtype == torch.float32:
        torch.backends.cudnn.allow_tf32 = False


class Timer:
    def __init__(self):
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.started


def machine_line(device) -> str:
    import platform

    import torch

    cores = os.cpu_count()
    text = f"torch {torch.__version__}, {platform.processor() or platform.machine()}, " \
           f"{cores} cores, {torch.get_num_threads()} torch threads"
    if device.type == "cuda":
        text += f", {torch.cuda.get_device_name(device)}"
    try:
        load = os.getloadavg()[0]
        text += f", load average {load:.1f} at start"
    except OSError:
        pass
    return text


def markdown_table(header: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def ensure_importable() -> None:
    """Let children spawned from a script in benchmarks/ import ``harness``."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
