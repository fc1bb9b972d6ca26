"""Streaming prediction vs the reference's whole-video strategy: speed and peak memory.

    python benchmarks/bench_streaming.py                 # CPU: about 5 minutes on 2 cores
    python benchmarks/bench_streaming.py --device cuda   # adds 1280x720 and 1920x1080
    python benchmarks/bench_streaming.py --quick         # a smoke test, under a minute

For each frame size and video length T, two variants, each in a fresh process:

streaming
    ``salience.predict.iter_log_density`` over a generator that makes each
    frame when asked (no video in memory), all T frames timed.
reference
    the strategy of the reference ``deepgazemr`` ``predict()``: the whole
    video as one T x 3 x H x W float32 tensor resident on the device, frames
    0..15 through VGG19 as one batch, then one frame at a time into a 16-slot
    ring buffer, one map copied to the host per frame
    (``harness.reference_strategy``).

Peak memory: on the CPU the peak resident set (``ru_maxrss``) of the process,
and its rise above the level right after import and model build ("delta"),
which is what the video and the computation cost. On CUDA also
``torch.cuda.max_memory_allocated`` (after ``reset_peak_memory_stats``) above
the model's own weights.

To fit a CPU run in minutes, two shortcuts, both printed with the table:

* the reference is timed on its first ``--reference-frames`` frames only (the
  16-frame window batch, then single frames; default 32 on the CPU, all on
  CUDA), but its video tensor always holds all T frames, so its memory is that
  of the full length: after the first window its memory no longer changes;
* on the CPU, lengths above ``--cpu-long-limit`` frames (default 100) are
  streamed only at sizes up to ``--cpu-long-size`` (default 320x180): at
  640x360 the CPU manages about 2 frames/s. The reference keeps every length.

Frames/s on a shared CPU vary by 10-20% from run to run (``--repeats`` keeps
the best). The streaming delta varies by about +-10 MiB between runs with
where glibc's heap happens to settle (its mmap threshold adapts to the
allocations), not with T: at 160x90 it was 70, 73 and 63 MiB for T = 30, 300
and 1500 (``--sizes 160x90 --lengths 30,300,1500``, about a minute).
"""

from __future__ import annotations

import argparse
import functools
import sys

import harness
from harness import MIB, DeviceMemory, Timer, peak_rss_mib

CPU_SIZES = "160x90,320x180,640x360"
CUDA_SIZES = CPU_SIZES + ",1280x720,1920x1080"
LENGTHS = "30,100,300"


def measure(variant: str, width: int, height: int, length: int, batch_size: int, precision: str,
            device: str, threads: int | None, reference_frames: int) -> dict:
    """One variant at one size and length; runs in its own process."""
    import torch

    from salience.predict import iter_log_density, resolve_device, resolve_dtype

    harness.set_threads(threads)
    device = resolve_device(device)
    dtype = resolve_dtype(precision)
    model = harness.build_untrained_model(device)
    harness.sync(device)
    rss_after_build = peak_rss_mib()
    memory = DeviceMemory(device)
    memory.start()
    warm_up = device.type == "cuda"  # cuDNN's kernel search would dominate short runs

    if variant == "streaming":
        if warm_up:
            for _ in iter_log_density(model, harness.synthetic_frames(batch_size, width, height),
                                      batch_size=batch_size, device=device, dtype=dtype):
                pass
        timed_frames = length
        checksum = 0.0
        timer = Timer()
        for _, log_density in iter_log_density(model, harness.synthetic_frames(length, width, height),
                                               batch_size=batch_size, device=device, dtype=dtype):
            checksum += float(log_density[0, 0])  # touch each map, as a writer would
        seconds = timer.seconds()
        load_seconds = None
    else:
        harness.fp32_means_fp32(device, dtype)
        log_cb = model.log_center_bias(height, width).to(device)
        if warm_up:
            with torch.inference_mode():
                model.encode(torch.zeros(model.window_length, 3, height, width, device=device))
                model.encode(torch.zeros(1, 3, height, width, device=device))
        timer = Timer()
        video = harness.video_tensor(harness.synthetic_frames(length, width, height),
                                     length, width, height, device)
        harness.sync(device)
        load_seconds = timer.seconds()
        timed_frames = min(length, reference_frames)
        timer = Timer()
        for _ in harness.reference_strategy(model, video[:timed_frames], log_cb, dtype):
            pass
        seconds = timer.seconds()
        assert video.shape[0] == length  # the whole video stayed resident throughout
        del video

    device_peak, device_delta = memory.peak_mib()
    peak = peak_rss_mib()
    return {
        "variant": variant, "size": f"{width}x{height}", "T": length, "timed": timed_frames,
        "fps": timed_frames / seconds, "load_s": load_seconds,
        "rss_peak": peak, "rss_delta": peak - rss_after_build,
        "device_peak": device_peak, "device_delta": device_delta,
        "video_mib": length * 3 * height * width * 4 / MIB,
    }


def plan_cells(sizes, lengths, on_cuda: bool, long_limit: int, long_size) -> list[tuple]:
    """(size, T, variants) for every cell of the table."""
    cells = []
    for size in sizes:
        for length in lengths:
            variants = ["streaming", "reference"]
            too_long_for_cpu = (length > long_limit and size[0] * size[1] > long_size[0] * long_size[1])
            if not on_cuda and too_long_for_cpu:
                variants = ["reference"]
            cells.append((size, length, variants))
    return cells


def flatness_lines(results: list[dict]) -> list[str]:
    """Streaming: memory at the longest vs the shortest length; the reference's growth."""
    lines = []
    by_key = {(r["variant"], r["size"], r["T"]): r for r in results}
    sizes = sorted({r["size"] for r in results}, key=lambda s: harness.parse_size(s)[0])
    for size in sizes:
        for variant in ("streaming", "reference"):
            lengths = sorted(t for (v, s, t) in by_key if v == variant and s == size)
            if len(lengths) < 2:
                continue
            short, long = by_key[(variant, size, lengths[0])], by_key[(variant, size, lengths[-1])]
            text = (f"{variant:9s} {size:>9s}: T={short['T']} -> T={long['T']}: peak RSS "
                    f"{short['rss_peak']:.0f} -> {long['rss_peak']:.0f} MiB "
                    f"({100 * (long['rss_peak'] / short['rss_peak'] - 1):+.1f}%), delta "
                    f"{short['rss_delta']:.0f} -> {long['rss_delta']:.0f} MiB")
            if short["device_peak"] is not None:
                text += (f"; device peak {short['device_peak']:.0f} -> {long['device_peak']:.0f} MiB "
                         f"({100 * (long['device_peak'] / short['device_peak'] - 1):+.1f}%)")
            if variant == "streaming":
                key = "device_peak" if short["device_peak"] is not None else "rss_peak"
                flat = abs(long[key] / short[key] - 1) <= 0.05
                text += "  -> flat (within 5%)" if flat else "  -> NOT flat (over 5%)"
            else:
                text += f"  (the video tensor grows by {long['video_mib'] - short['video_mib']:.0f} MiB)"
            lines.append(text)
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (default cpu)")
    parser.add_argument("--lengths", default=LENGTHS, help=f"video lengths T (default {LENGTHS})")
    parser.add_argument("--sizes", default=None,
                        help=f"WxH list (default {CPU_SIZES}; on CUDA {CUDA_SIZES})")
    parser.add_argument("--batch-size", type=int, default=4, help="streaming micro-batch (default 4)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per cell: best frames/s, highest memory (a shared CPU is noisy)")
    parser.add_argument("--reference-frames", type=int, default=None,
                        help="frames of the reference to time (default: 32 on the CPU, all on CUDA)")
    parser.add_argument("--cpu-long-limit", type=int, default=100,
                        help="CPU: stream lengths above this only at sizes up to --cpu-long-size")
    parser.add_argument("--cpu-long-size", default="320x180")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 96x54 and 160x90, T=30 and 100, reference timed on 20 frames")
    args = parser.parse_args(argv)

    from salience.predict import resolve_device

    device = resolve_device(args.device)
    on_cuda = device.type == "cuda"
    sizes = args.sizes or (CUDA_SIZES if on_cuda else CPU_SIZES)
    lengths = args.lengths
    reference_frames = args.reference_frames or (10**9 if on_cuda else 32)
    if args.quick:
        sizes, lengths, reference_frames = args.sizes or "96x54,160x90", "30,100", 20
    sizes = [harness.parse_size(s) for s in harness.parse_list(sizes)]
    lengths = harness.parse_list(lengths, int)
    cells = plan_cells(sizes, lengths, on_cuda, args.cpu_long_limit, harness.parse_size(args.cpu_long_size))

    print(f"# bench_streaming on {device}: {harness.machine_line(device)}", flush=True)
    print(f"# untrained DeepGaze MR (seeded), {args.precision}, streaming batch {args.batch_size}; "
          f"each row a fresh process; frames/s best of {args.repeats}", flush=True)
    results = []
    for (width, height), length, variants in cells:
        for variant in variants:
            print(f"  measuring {variant} {width}x{height} T={length} ...", file=sys.stderr, flush=True)
            results.append(harness.best_of(args.repeats, functools.partial(
                harness.run_isolated, measure, variant=variant, width=width, height=height,
                length=length, batch_size=args.batch_size, precision=args.precision,
                device=str(device), threads=args.threads, reference_frames=reference_frames)))

    header = ["size", "T", "variant", "frames timed", "frames/s", "peak RSS MiB", "RSS delta MiB"]
    if on_cuda:
        header += ["device peak MiB", "device delta MiB"]
    header += ["video tensor MiB"]
    rows = []
    for r in results:
        row = [r["size"], r["T"], r["variant"], r["timed"], r["fps"], r["rss_peak"], r["rss_delta"]]
        if on_cuda:
            row += [r["device_peak"], r["device_delta"]]
        row += [r["video_mib"] if r["variant"] == "reference" else None]
        rows.append(row)
    print()
    print(harness.markdown_table(header, rows))
    print()
    print("RSS delta: peak resident memory above the level after import and model build.")
    if not on_cuda:
        print(f"reference timed on its first {reference_frames} frames at most (window batch, then "
              "single frames); its video tensor held all T frames throughout.")
        skipped = [f"{w}x{h} T={t}" for (w, h), t, v in cells if "streaming" not in v]
        if skipped:
            print(f"streaming not run on the CPU (time): {', '.join(skipped)}")
    print()
    for line in flatness_lines(results):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
