"""GPU acceptance figures in one table: end to end from a video file, every row a fresh process.

    benchmarks/gpu_acceptance.sh                        # the GPU tests, then this (a GPU machine)
    python3 benchmarks/gpu_acceptance.py --sizes 1280x720 --authors /path/to/deepgazemr-checkout
    python3 benchmarks/gpu_acceptance.py --tiny         # CPU, under a minute: the table's form (CI)

Rows, for DeepGaze MR at each ``--sizes`` (default 720p, 1080p, 4K):

- streaming (``salience.predict``, the default ``Tuning``) at each precision
  (fp32, bf16) and batch size (1, 4, 16), end to end: frames decoded from
  an H.264 file, copied to the device, predicted, and every map written to a
  zarr store (``store.write_frames``), as a prediction job does;
- the reference strategy at each precision (``harness.reference_strategy``:
  the whole video as one tensor on the device, frames 0..15 as one VGG19
  batch, then one frame at a time), its maps written the same way;
- with ``--authors DIR`` (a checkout of mtangemann/deepgazemr, which stays
  outside this project): the authors' own ``DeepGazeMR.predict()`` with
  this run's weights, the same way.

and DeepGaze IIE and III (untrained) at ``--per-frame-size`` (720p), each
precision, batch 4.

Columns: frames/s over all T frames (after a warm-up micro-batch: cuDNN's
kernel search, compilation); the ratio to the reference strategy and to
the authors' code at the same size and precision; peak GPU memory
(``torch.cuda.max_memory_allocated``, weights included); peak host RSS; the
share of time per frame in decode / transfer / model / write, each stage
timed alone on the batch-4 rows (transfer: pinned uint8 batches to the
device; model: prediction from frames in memory, less the transfer; write:
the maps into a zarr store); and for DeepGaze MR the frames/s as a share of
the arithmetic ceiling: ``--peak-tflops`` (default: 790 on an H100/H200,
dense bf16) over VGG19's features, about 717 GFLOP per 720p frame, scaled
by pixels (so about 1,100 frames/s at 720p on an H100); the largest
absolute log-density difference from the fp32 streaming row at batch 4 on
a few frames from 15 on (where the reference and the authors' code have
maps): about 1e-6 for the fp32 rows of the reference and the authors' code
shows that they compute the same maps.

A row that fails (out of GPU memory at 4K and batch 16, say) says so in one
cell and the table goes on. The model is DeepGaze MR with the fixtures'
recipe weights (speed does not depend on their values; the official
checkpoint is never downloaded here).

On the GPU machine lent to sessions, whose Python lacks zarr, numcodecs and
PyAV, ``gpu_acceptance.sh`` installs the wheels carried in
``.whl/`` first (see that script's header for the ``pip download`` recipe).
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import harness
from harness import DeviceMemory, Timer, peak_rss_mib

MR_SIZES = "1280x720,1920x1080,3840x2160"
PER_FRAME_SIZE = "1280x720"
PRECISIONS = "fp32,bf16"
BATCHES = "1,4,16"
STAGE_BATCH = 4  # the rows whose stages are also timed alone
STAGE_FRAMES = 32  # frames held in memory for the stage timings
KEPT_MAPS = 4  # maps kept per row (frames 15..T-1, evenly spread) for the error column
RECIPE_SEED = 1
VGG19_GFLOP_720P = 717.0  # VGG19 conv features of one 1280x720 frame (2 FLOP per multiply-add)
PEAK_BF16_TFLOPS = {"H100": 790.0, "H200": 790.0}  # dense bf16, as measured on the lent machines
TINY = dict(sizes="64x48", per_frame_size="128x96", frames=18, batches="1,4", device="cpu")
COLUMNS = ["model", "size", "variant", "precision", "batch", "frames/s", "vs reference", "vs authors",
           "peak GPU MiB", "peak RSS MiB", "decode %", "transfer %", "model %", "write %", "% of ceiling",
           "max abs err"]


def plan_rows(sizes, per_frame_size, precisions, batches, authors: bool, per_frame: bool) -> list[dict]:
    rows = []
    for size in sizes:
        for precision in precisions:
            rows.append(dict(model="deepgaze_mr", size=size, kind="reference", precision=precision, batch=None))
            if authors:
                rows.append(dict(model="deepgaze_mr", size=size, kind="authors", precision=precision, batch=None))
            for batch in batches:
                rows.append(dict(model="deepgaze_mr", size=size, kind="streaming", precision=precision,
                                 batch=batch))
    if per_frame:
        for model in ("deepgaze_iie", "deepgaze_iii"):
            for precision in precisions:
                rows.append(dict(model=model, size=per_frame_size, kind="streaming", precision=precision,
                                 batch=STAGE_BATCH))
    return rows


def variant_name(row: dict) -> str:
    return {"reference": "reference strategy (re-implemented)", "authors": "authors' predict()",
            "streaming": "streaming (salience)"}[row["kind"]]


def build(model_name: str, device):
    from salience.models import build_model

    if model_name == "deepgaze_mr":
        return harness.build_recipe_model(device, RECIPE_SEED)
    return build_model(model_name).to(device).eval()


def authors_model(directory: str, ours, device):
    """The authors' DeepGazeMR from a checkout, with the weights of ``ours``.

    Its backbone asks torchvision for pretrained VGG19 weights (a download);
    they are replaced by ours at once, so it is built without them.
    """
    import torchvision

    sys.path.insert(0, str(Path(directory).resolve()))
    from deepgazemr import model as their_module

    untrained_vgg19 = functools.partial(torchvision.models.vgg19, weights=None)
    their_module.models.vgg19 = lambda *args, **kwargs: untrained_vgg19()  # torchvision's own module
    theirs = their_module.DeepGazeMR()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return theirs.to(device).eval()


def write_maps(maps, path: Path, first: int, count: int, height: int, width: int, threads) -> None:
    from salience import store
    from salience.settings import Storage

    store.write_frames(path, maps, first=first, count=count, height=height, width=width, attrs={},
                       storage=Storage(threads=threads))


def kept_indices(frames: int) -> list[int]:
    return sorted({int(i) for i in np.linspace(15, frames - 1, KEPT_MAPS)})


def keeping(maps, kept: dict):
    """Pass ``(index, map)`` pairs through, keeping a copy of those at ``kept``'s keys."""
    for index, log_density in maps:
        if index in kept:
            kept[index] = np.array(log_density, np.float32)
        yield index, log_density


def measure_row(row: dict, video: str, frames: int, device: str, threads, authors_dir, scratch: str) -> dict:
    """One row, in its own process: frames/s end to end, peak memory, stage times."""
    import torch

    from salience.predict import iter_log_density, resolve_device, resolve_dtype
    from salience.video import read_frames

    harness.set_threads(threads)
    device = resolve_device(device)
    dtype = resolve_dtype(row["precision"])
    width, height = harness.parse_size(row["size"])
    model = build(row["model"], device)
    store_path = Path(scratch) / f"{row['model']}-{row['kind']}-{row['precision']}-{row['batch']}.zarr"
    harness.sync(device)
    memory = DeviceMemory(device)
    memory.start()
    stages = None
    kept = dict.fromkeys(kept_indices(frames))

    if row["kind"] == "streaming":
        options = dict(batch_size=row["batch"], device=device, dtype=dtype)
        for _ in iter_log_density(model, read_frames(video, 0, row["batch"]), **options):
            pass  # warm-up: cuDNN's kernel search for this size
        timer = Timer()
        write_maps(keeping(iter_log_density(model, read_frames(video), **options), kept), store_path, 0,
                   frames, height, width, threads)
        seconds = timer.seconds()
        if row["batch"] == STAGE_BATCH:
            stages = stage_seconds(model, video, frames, device, options, scratch, threads)
    else:
        harness.fp32_means_fp32(device, dtype)
        log_cb = model.log_center_bias(height, width).to(device)
        if row["kind"] == "authors":
            model = authors_model(authors_dir, model, device)
        with torch.inference_mode():  # warm-up: both call shapes (16 frames, then 1)
            for count in (model.window_length if hasattr(model, "window_length") else 16, 1):
                model.features(torch.zeros(count, 3, height, width, device=device))
        timer = Timer()
        clip = harness.video_tensor(read_frames(video), frames, width, height, device)
        if row["kind"] == "reference":
            maps = harness.reference_strategy(model, clip, log_cb, dtype)
        else:
            maps = authors_maps(model, clip, log_cb.exp(), dtype)
        write_maps(keeping(maps, kept), store_path, 15, frames - 15, height, width, threads)
        seconds = timer.seconds()
        del clip
    shutil.rmtree(store_path, ignore_errors=True)
    device_peak, _ = memory.peak_mib()
    maps_path = store_path.with_suffix(".npy")
    np.save(maps_path, np.stack([kept[index] for index in sorted(kept)]))
    return {"fps": frames / seconds, "device_peak": device_peak, "rss_peak": peak_rss_mib(),
            "stages": stages, "maps": str(maps_path)}


def authors_maps(model, clip, center_bias, dtype):
    """``(index, map)`` from the authors' generator (None for frames 0..14), copied to the host."""
    import torch

    autocast = harness.autocast_for(clip.device, dtype)
    with torch.inference_mode(), autocast:
        for index, prediction in enumerate(model.predict(clip, center_bias)):
            if prediction is not None:
                yield index, prediction.float().cpu().numpy()


def stage_seconds(model, video, frames, device, options, scratch, threads) -> dict:
    """Seconds per frame of each stage alone: decode, transfer, model, write."""
    import torch

    from salience.predict import iter_log_density
    from salience.video import read_frames

    timer = Timer()
    held = []
    for frame in read_frames(video):
        if len(held) < STAGE_FRAMES:
            held.append(frame)
    decode = timer.seconds() / frames
    count = len(held)
    batch = options["batch_size"]

    harness.sync(device)
    timer = Timer()
    for start in range(0, count, batch):
        host = torch.from_numpy(np.stack(held[start:start + batch]))
        if device.type == "cuda":
            host = host.pin_memory()
        host.to(device, non_blocking=True)
    harness.sync(device)
    transfer = timer.seconds() / count

    timer = Timer()
    maps = [m for _, m in iter_log_density(model, held, **options)]
    harness.sync(device)
    model_seconds = max(0.0, timer.seconds() / count - transfer)

    height, width = maps[0].shape
    path = Path(scratch) / "stage-write.zarr"
    timer = Timer()
    write_maps(enumerate(maps), path, 0, count, height, width, threads)
    write = timer.seconds() / count
    shutil.rmtree(path, ignore_errors=True)
    return {"decode": decode, "transfer": transfer, "model": model_seconds, "write": write}


def peak_tflops(device, given: float | None) -> float | None:
    if given:
        return given
    if device.type != "cuda":
        return None
    import torch

    name = torch.cuda.get_device_name(device)
    return next((tflops for key, tflops in PEAK_BF16_TFLOPS.items() if key in name), None)


def ceiling_fps(size: str, tflops: float) -> float:
    width, height = harness.parse_size(size)
    gflop = VGG19_GFLOP_720P * width * height / (1280 * 720)
    return tflops * 1e3 / gflop


def is_error_reference(row: dict) -> bool:
    """The fp32 streaming row at the stage batch size: every row's error is against it."""
    return row["kind"] == "streaming" and row["precision"] == "fp32" and row["batch"] == STAGE_BATCH


def table_rows(measured: list[tuple[dict, dict | str]], tflops: float | None) -> list[list]:
    """The table's cells; reads each row's kept maps (call while the scratch folder exists)."""
    def error_of(row, result):
        reference = next((r for other, r in measured if is_error_reference(other) and isinstance(r, dict)
                          and other["model"] == row["model"] and other["size"] == row["size"]), None)
        if reference is None:
            return None
        return float(np.abs(np.load(result["maps"]).astype(np.float64) - np.load(reference["maps"])).max())

    def fps_of(kind, row):
        for other, result in measured:
            if (other["kind"] == kind and other["size"] == row["size"] and other["model"] == row["model"]
                    and other["precision"] == row["precision"] and isinstance(result, dict)):
                return result["fps"]
        return None

    table = []
    for row, result in measured:
        head = [row["model"], row["size"], variant_name(row), row["precision"], row["batch"]]
        if isinstance(result, str):
            table.append(head + [result] + [None] * (len(COLUMNS) - 6))
            continue
        reference, authors = fps_of("reference", row), fps_of("authors", row)
        stages = result["stages"]
        shares = [None] * 4
        if stages:
            total = sum(stages.values())
            shares = [100 * stages[key] / total for key in ("decode", "transfer", "model", "write")]
        ceiling = None
        if tflops and row["model"] == "deepgaze_mr":
            ceiling = 100 * result["fps"] / ceiling_fps(row["size"], tflops)
        table.append(head + [
            result["fps"],
            result["fps"] / reference if reference and row["kind"] != "reference" else None,
            result["fps"] / authors if authors and row["kind"] != "authors" else None,
            result["device_peak"], result["rss_peak"], *shares, ceiling, error_of(row, result)])
    return table


def summary(measured, tflops) -> list[str]:
    lines = []
    sizes = sorted({row["size"] for row, _ in measured if row["model"] == "deepgaze_mr"},
                   key=lambda s: np.prod(harness.parse_size(s)))
    for size in sizes:
        done = [(row, result) for row, result in measured
                if row["model"] == "deepgaze_mr" and row["size"] == size and isinstance(result, dict)
                and row["kind"] == "streaming"]
        if not done:
            continue
        row, result = max(done, key=lambda item: item[1]["fps"])
        line = (f"# DeepGaze MR {size}: highest {result['fps']:.4g} frames/s ({row['precision']}, batch "
                f"{row['batch']})")
        if tflops:
            ceiling = ceiling_fps(size, tflops)
            line += (f" = {100 * result['fps'] / ceiling:.1f} % of the ceiling {ceiling:.0f} frames/s "
                     f"({tflops:g} TFLOP/s over {VGG19_GFLOP_720P * np.prod(harness.parse_size(size)) / 921600:.0f} "
                     f"GFLOP per frame)")
        lines.append(line)
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true",
                        help=f"CPU, tiny sizes, seconds: proves the table's form ({TINY})")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, cpu")
    parser.add_argument("--sizes", default=MR_SIZES, help=f"DeepGaze MR frame sizes (default {MR_SIZES})")
    parser.add_argument("--per-frame-size", default=PER_FRAME_SIZE,
                        help=f"IIE/III frame size (default {PER_FRAME_SIZE})")
    parser.add_argument("--no-per-frame", action="store_true", help="leave out the IIE/III rows")
    parser.add_argument("--precisions", default=PRECISIONS, help=f"default {PRECISIONS}")
    parser.add_argument("--batches", default=BATCHES, help=f"streaming batch sizes (default {BATCHES})")
    parser.add_argument("--frames", type=int, default=120, help="video length T (default 120)")
    parser.add_argument("--video", help="a real video, scaled to each size and looped to T "
                                        "(default: ffmpeg's testsrc2 pattern, encoded to H.264)")
    parser.add_argument("--authors", metavar="DIR",
                        help="a checkout of mtangemann/deepgazemr (the folder holding deepgazemr/)")
    parser.add_argument("--threads", type=int, default=4, help="torch and zarr writer threads (default 4)")
    parser.add_argument("--peak-tflops", type=float,
                        help="the device's dense bf16 TFLOP/s (default: 790 on H100/H200, else no ceiling)")
    parser.add_argument("--row-timeout", type=float, default=300, help="seconds per row before it is given up")
    args = parser.parse_args(argv)
    if args.tiny:  # tiny defaults; options given explicitly still win
        for key, value in TINY.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    if args.frames <= 16:
        parser.error("--frames must exceed 16 (the reference needs a full window)")
    if args.video and not Path(args.video).is_file():
        parser.error(f"--video {args.video}: no such file")
    if args.authors and not (Path(args.authors) / "deepgazemr" / "model.py").is_file():
        parser.error(f"--authors {args.authors}: no deepgazemr/model.py there (give the checkout's root)")

    import torch

    from salience.device import resolve_device

    device = resolve_device(args.device)
    tflops = peak_tflops(device, args.peak_tflops)
    rows = plan_rows(harness.parse_list(args.sizes), args.per_frame_size, harness.parse_list(args.precisions),
                     harness.parse_list(args.batches, int), bool(args.authors), not args.no_per_frame)
    source = args.video or "ffmpeg's testsrc2"
    print(f"# gpu_acceptance on {device}: {harness.machine_line(device)}", flush=True)
    print(f"# T={args.frames} frames of {source}, H.264, per size; end to end: decode, transfer, predict, "
          f"zarr writes ({args.threads} threads); each row a fresh process", flush=True)
    measured = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gpu_acceptance_") as scratch:
        videos = {}
        for row in rows:
            size = row["size"]
            if size not in videos:
                width, height = harness.parse_size(size)
                videos[size] = str(harness.prepare_video(Path(scratch) / f"{size}.mp4", args.frames, width,
                                                         height, source=args.video))
            print(f"  {row['model']} {size} {variant_name(row)} {row['precision']} batch {row['batch']} ...",
                  file=sys.stderr, flush=True)
            try:
                result = harness.run_isolated(
                    measure_row, timeout_s=args.row_timeout, row=row, video=videos[size], frames=args.frames,
                    device=str(device), threads=args.threads, authors_dir=args.authors, scratch=scratch)
            except (RuntimeError, TimeoutError) as error:
                last = str(error).strip().splitlines()[-1]
                result = "failed: " + ("out of memory" if "OutOfMemoryError" in str(error) else last[:120])
                print(f"    {result}", file=sys.stderr, flush=True)
            else:  # each row's figures as soon as they exist: a run cut short keeps what it measured
                print(f"    {result}", file=sys.stderr, flush=True)
            measured.append((row, result))
        table = table_rows(measured, tflops)
    print()
    print(harness.markdown_table(COLUMNS, table), flush=True)
    print()
    for line in summary(measured, tflops):
        print(line)
    print(f"# {len(measured)} rows in {time.monotonic() - started:.0f} s; torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
