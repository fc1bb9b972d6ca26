"""Speed levers of streaming DeepGaze MR prediction: one table, every variant at every size.

    python benchmarks/bench_speed.py                   # CPU: 360p, 720p, 1080p, T=20 (about 20 min)
    python benchmarks/bench_speed.py --device cuda     # T=300
    python benchmarks/bench_speed.py --video real.mp4  # a real video (scaled, looped to T)
    python benchmarks/bench_speed.py --compile         # adds torch.compile rows

Rows (each in a fresh process, all predicting the same encoded H.264 video,
decoding included in every time), per frame size:

1. the reference strategy, fp32: the whole video decoded into one
   T x 3 x H x W tensor, frames 0..15 as one VGG19 batch, then one frame at a
   time through a 16-slot ring buffer (``harness.reference_strategy``);
2. streaming with every lever off (NCHW, decoding inline, plain memory);
3. + channels_last (NHWC weights and activations);
4. + decoding on a background thread, 2 micro-batches ahead (the CPU default);
5. CUDA only: + pinned host memory and overlapped output copies;
   + cudnn.benchmark (= the default ``Tuning``); fp32 with TF32 allowed;
6. the default with bf16 autocast for the backbone; fp16 (CUDA; on the CPU
   only with ``--cpu-fp16``: it runs on fallback kernels there);
7. the default with a micro-batch of 16;
8. the default end to end: maps written to a zarr store as the prediction
   job does (``store.write_frames``, one writer thread per ``--threads``,
   at least 2), float32 and float16;
9. with ``--compile``: ``torch.compile`` of the backbone, fp32 and bf16
   (frames/s after compilation; the compile time is the "setup s" column).

On the CPU, a row whose backbone call would not fit in memory (estimated
from the frame size and the frames per call; the reference's first call
takes 16 frames) is reported as skipped with the estimate: at 1080p on a
24 GB machine that is the reference's out-of-memory failure. On CUDA such a
row runs and reports its out-of-memory error.

Columns: frames/s over all T frames; peak device memory (CUDA: allocated,
weights included); peak host RSS of the process and its rise above the level
after model build; error against the fp32 default streaming row on frames
15..T-1 (every map of the reference exists there): max and mean absolute
log-density difference, and the lowest per-frame Pearson correlation of the
density maps (``exp`` of the log-density).

The model is DeepGaze MR with the fixtures' recipe weights (tests/helpers/recipe.py,
seed 1): random, but with the statistics of trained weights, so its maps have
structure and the error columns mean something (the official checkpoint is
not downloaded by benchmarks). Speed does not depend on the weights' values.

A second table measures reduced precision on the golden fixture
(tests/data/deepgaze_mr_seed1.npz): error of bf16 and fp16 against fp32, and
of each against the fixture's expected maps.
"""

from __future__ import annotations

import argparse
import functools
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

import harness
from harness import DeviceMemory, Timer, peak_rss_mib

SIZES = "640x360,1280x720,1920x1080"
RECIPE_SEED = 1  # the weights of the golden fixture deepgaze_mr_seed1.npz
# Host memory of one CPU backbone call per frame pixel (VGG19's float32
# activations, two alive at a time, measured at 360p: ~700 B/pixel).
BYTES_PER_PIXEL_CALL = 768
KEPT_MAPS = 32  # maps kept per run for the error columns (evenly spread over frames 15..T-1)

LEVERS_OFF = dict(prefetch=0, channels_last=False, pin_memory=False, overlap_output=False,
                  cudnn_benchmark=False)


def variants(on_cuda: bool, batch_size: int, with_compile: bool, cpu_fp16: bool) -> list[dict]:
    """The rows, in order; ``tuning`` holds ``salience.predict.Tuning`` fields."""
    default = "" if on_cuda else " = default"
    rows = [
        dict(name="reference strategy (whole video, 1 frame/step), fp32", kind="reference"),
        dict(name="streaming, levers off (NCHW, inline decode)", tuning=LEVERS_OFF),
        dict(name="+ channels_last", tuning={**LEVERS_OFF, "channels_last": True}),
        dict(name="+ decode thread (prefetch 2)" + default,
             tuning={**LEVERS_OFF, "channels_last": True, "prefetch": 2} if on_cuda else {}),
    ]
    if on_cuda:
        rows += [
            dict(name="+ pinned memory, overlapped output",
                 tuning={**LEVERS_OFF, "channels_last": True, "prefetch": 2, "pin_memory": True,
                         "overlap_output": True}),
            dict(name="+ cudnn.benchmark = default", tuning={}),
            dict(name="default, fp32 with TF32 convolutions", tuning={"allow_tf32": True}),
        ]
    rows.append(dict(name="default, bf16 backbone", tuning={}, precision="bf16"))
    if on_cuda or cpu_fp16:
        rows.append(dict(name="default, fp16 backbone", tuning={}, precision="fp16"))
    rows.append(dict(name=f"default, batch {max(16, 2 * batch_size)}", tuning={},
                     batch_size=max(16, 2 * batch_size)))
    rows += [
        dict(name="default + zarr writes, float32 store", tuning={}, store="float32"),
        dict(name="default + zarr writes, float16 store", tuning={}, store="float16"),
    ]
    if with_compile:
        rows += [
            dict(name="default + torch.compile, fp32", tuning={"compile": True}),
            dict(name="default + torch.compile, bf16", tuning={"compile": True}, precision="bf16"),
        ]
    for row in rows:
        row.setdefault("kind", "streaming")
        row.setdefault("precision", "fp32")
        row.setdefault("batch_size", batch_size)
        row.setdefault("store", None)
    return rows


def is_error_reference(row: dict, batch_size: int) -> bool:
    """The fp32 default streaming row, against which every row's error is measured."""
    return (row["kind"] == "streaming" and row["tuning"] == {} and row["precision"] == "fp32"
            and row["batch_size"] == batch_size and row["store"] is None)


def memory_shortfall(row: dict, width: int, height: int, frames: int, device) -> str | None:
    """Why ``row`` would not fit in host memory at this size, or None when it would (an estimate).

    CPU only: there running out of memory means the kernel's OOM killer, which
    may hit anything on the machine. On CUDA, running out is a clean error,
    which the table reports as the row's failure.
    """
    if device.type != "cpu":
        return None
    frames_per_call = 16 if row["kind"] == "reference" else row["batch_size"]
    need = BYTES_PER_PIXEL_CALL * width * height * frames_per_call
    if row["kind"] == "reference":
        need += frames * 3 * width * height * 4  # the resident float32 video
    available = harness.available_host_bytes()
    if need <= 0.8 * available:
        return None
    return f"skipped: needs about {need / 2**30:.0f} GiB, {available / 2**30:.0f} GiB available"


def kept_indices(frames: int) -> list[int]:
    step = max(1, math.ceil((frames - 15) / KEPT_MAPS))
    return list(range(15, frames, step))


def measure(variant: dict, video: str, width: int, height: int, frames: int, device: str,
            threads: int | None, maps_path: str) -> dict:
    """One row: time and memory of one variant over the whole video; runs in its own process."""
    import torch

    from salience.predict import Tuning, iter_log_density, resolve_device, resolve_dtype
    from salience.video import read_frames

    harness.set_threads(threads)
    device = resolve_device(device)
    dtype = resolve_dtype(variant["precision"])
    batch_size = variant["batch_size"]
    model = harness.build_recipe_model(device, RECIPE_SEED)
    keep = kept_indices(frames)
    slot_of = {index: slot for slot, index in enumerate(keep)}
    kept = np.ones((len(keep), height, width), np.float32)  # touched now: not part of the delta
    harness.sync(device)
    rss_after_build = harness.reset_peak_rss()
    memory = DeviceMemory(device)
    memory.start()
    setup_seconds = None

    if variant["kind"] == "reference":
        harness.fp32_means_fp32(device, dtype)
        log_cb = model.log_center_bias(height, width).to(device)
        if device.type == "cuda":
            with torch.inference_mode():
                model.encode(torch.zeros(model.window_length, 3, height, width, device=device))
                model.encode(torch.zeros(1, 3, height, width, device=device))
        timer = Timer()
        video_tensor = harness.video_tensor(read_frames(video), frames, width, height, device)
        for index, log_density in harness.reference_strategy(model, video_tensor, log_cb, dtype):
            if index in slot_of:
                kept[slot_of[index]] = log_density
        seconds = timer.seconds()
    else:
        tuning = Tuning(**variant["tuning"])
        options = dict(batch_size=batch_size, device=device, dtype=dtype, tuning=tuning)
        if device.type == "cuda" or tuning.compile:
            # Warm-up on the first micro-batch: cuDNN's search, compilation.
            timer = Timer()
            for _ in iter_log_density(model, read_frames(video, 0, batch_size), **options):
                pass
            setup_seconds = timer.seconds()
        timer = Timer()
        count = 0

        def maps():
            nonlocal count
            for index, log_density in iter_log_density(model, read_frames(video), **options):
                if index in slot_of:
                    kept[slot_of[index]] = log_density
                count += 1
                yield index, log_density

        if variant["store"]:
            from salience import store
            from salience.settings import Storage

            store_path = Path(maps_path).with_suffix(".zarr")
            store.write_frames(store_path, maps(), first=0, count=frames, height=height, width=width,
                               attrs={}, storage=Storage(variant["store"], threads=threads))
            seconds = timer.seconds()
            kept[:] = store.open_array(store_path).get_orthogonal_selection(
                (keep, slice(None), slice(None)))  # the error of what was stored
            shutil.rmtree(store_path)
        else:
            for _ in maps():
                pass
            seconds = timer.seconds()
        assert count == frames, (count, frames)

    device_peak, device_delta = memory.peak_mib()
    peak = peak_rss_mib()
    np.save(maps_path, kept)
    return {"fps": frames / seconds, "setup_s": setup_seconds, "rss_peak": peak,
            "rss_delta": peak - rss_after_build, "device_peak": device_peak,
            "device_delta": device_delta}


def decode_rate(video: str) -> float:
    from salience.video import read_frames

    timer = Timer()
    count = sum(1 for _ in read_frames(video))
    return count / timer.seconds()


def errors(maps: np.ndarray, reference: np.ndarray) -> tuple[float, float, str]:
    """Max and mean |log-density difference|, lowest per-frame Pearson r of the densities.

    r is returned as text with 7 decimals: near 1 is where the differences are.
    """
    maps, reference = maps.astype(np.float64), reference.astype(np.float64)
    difference = np.abs(maps - reference)
    correlations = [np.corrcoef(np.exp(a).ravel(), np.exp(b).ravel())[0, 1]
                    for a, b in zip(maps, reference)]
    return float(difference.max()), float(difference.mean()), f"{min(correlations):.7f}"


def fixture_precision(device: str, threads: int | None, precisions: list[str]) -> list[list]:
    """Reduced precision on the golden fixture; runs in its own process."""
    sys.path.insert(0, str(harness.REPO / "tests"))
    from helpers.recipe import fill_with_recipe

    from salience.models import build_model
    from salience.predict import iter_log_density

    harness.set_threads(threads)
    fixture = np.load(harness.REPO / "tests" / "data" / "deepgaze_mr_seed1.npz")
    model = build_model("deepgaze_mr")
    fill_with_recipe(model, int(fixture["seed"]))
    outputs = {}
    for precision in ["fp32", *precisions]:
        timer = Timer()
        results = iter_log_density(model, list(fixture["frames"]), center_bias=fixture["center_bias"],
                                   batch_size=4, device=device, dtype=precision)
        outputs[precision] = (np.stack([m for _, m in results])[15:], timer.seconds())
    expected = fixture["expected"][15:]
    rows = []
    for precision, (maps, seconds) in outputs.items():
        rows.append([precision, *errors(maps, outputs["fp32"][0]), *errors(maps, expected)[:2], seconds])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (default cpu)")
    parser.add_argument("--sizes", default=SIZES, help=f"WxH list (default {SIZES})")
    parser.add_argument("--frames", type=int, default=None, help="video length T (default 20 CPU, 300 CUDA)")
    parser.add_argument("--video", default=None,
                        help="a real video to predict, scaled to each size, looped if shorter than T "
                             "(default: ffmpeg's testsrc2)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="torch (and zarr writer) threads per process")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per row: best frames/s, highest memory (a shared CPU is noisy)")
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows")
    parser.add_argument("--cpu-fp16", action="store_true", help="also time fp16 on the CPU (slow)")
    parser.add_argument("--only", default=None, help="comma list of row numbers to run (1-based)")
    parser.add_argument("--skip-fixture", action="store_true", help="leave out the fixture table")
    args = parser.parse_args(argv)

    from salience.predict import resolve_device

    device = resolve_device(args.device)
    on_cuda = device.type == "cuda"
    sizes = [harness.parse_size(s) for s in harness.parse_list(args.sizes)]
    frames = args.frames or (300 if on_cuda else 20)
    if frames <= 16:
        parser.error("--frames must exceed 16 (the reference needs a full window)")
    if args.video and not Path(args.video).is_file():
        parser.error(f"--video {args.video}: no such file")
    rows = variants(on_cuda, args.batch_size, args.compile, args.cpu_fp16)
    if args.only:
        chosen = set(harness.parse_list(args.only, int))
        rows = [row for number, row in enumerate(rows, 1)
                if number in chosen or is_error_reference(row, args.batch_size)]
    for position, row in enumerate(rows):
        row["position"] = position  # the table's order; the error reference runs first
    rows.sort(key=lambda row: not is_error_reference(row, args.batch_size))

    source = f"{args.video} scaled to each size" if args.video else "ffmpeg's testsrc2 pattern"
    print(f"# bench_speed on {device}: {harness.machine_line(device)}", flush=True)
    print(f"# DeepGaze MR, recipe weights (seed {RECIPE_SEED}); T={frames} frames of {source}, "
          f"H.264; decoding included; each row a fresh process", flush=True)
    print(f"# frames/s: best of {args.repeats} run(s); memory: the highest; errors vs the fp32 default "
          f"row on frames 15..{frames - 1}", flush=True)
    if not on_cuda:
        print("# CPU: the CUDA-only levers (pinned memory, overlapped output, cudnn.benchmark, TF32) "
              "are not rows here", flush=True)
    table = []
    with tempfile.TemporaryDirectory(prefix="bench_speed_") as scratch:
        scratch = Path(scratch)
        for width, height in sizes:
            video = str(harness.prepare_video(scratch / f"{width}x{height}.mp4", frames, width, height,
                                              source=args.video))
            print(f"# {width}x{height}: decoding alone {decode_rate(video):.0f} frames/s", flush=True)
            measured = []
            for number, row in enumerate(rows):
                print(f"  {width}x{height}: {row['name']} ...", file=sys.stderr, flush=True)
                shortfall = memory_shortfall(row, width, height, frames, device)
                if shortfall:
                    measured.append((row, shortfall))
                    continue
                maps_path = str(scratch / f"maps{number}.npy")
                try:
                    result = harness.best_of(args.repeats, functools.partial(
                        harness.run_isolated, measure, variant=row, video=video, width=width,
                        height=height, frames=frames, device=str(device), threads=args.threads,
                        maps_path=maps_path))
                    result["maps"] = np.load(maps_path)
                except RuntimeError as error:
                    if number == 0:
                        raise  # no error reference, no table
                    result = f"failed: {str(error).splitlines()[-1]}"
                    print(f"    {result}", file=sys.stderr, flush=True)
                measured.append((row, result))
            reference_maps = measured[0][1]["maps"]
            for row, result in sorted(measured, key=lambda item: item[0]["position"]):
                if isinstance(result, str):
                    table.append([f"{width}x{height}", row["name"], result, *[None] * 7])
                    continue
                table.append([f"{width}x{height}", row["name"], result["fps"], result["setup_s"],
                              result["device_peak"], result["rss_peak"], result["rss_delta"],
                              *errors(result["maps"], reference_maps)])
    print()
    print(harness.markdown_table(
        ["size", "variant", "frames/s", "setup s", "peak device MiB", "peak RSS MiB", "RSS delta MiB",
         "max abs err", "mean abs err", "min Pearson r"], table), flush=True)

    if not args.skip_fixture:
        precisions = ["bf16", "fp16"] if (on_cuda or args.cpu_fp16) else ["bf16"]
        rows = harness.run_isolated(fixture_precision, device=str(device), threads=args.threads,
                                    precisions=precisions)
        print(f"\n## Precision on the fixture (64x96, 24 frames, recipe weights), {device}, "
              f"frames 15..23\n")
        print(harness.markdown_table(
            ["precision", "max abs vs fp32", "mean abs vs fp32", "min Pearson r vs fp32",
             "max abs vs expected", "mean abs vs expected", "seconds"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
