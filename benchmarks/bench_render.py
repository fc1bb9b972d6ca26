"""Rendering heatmap.mp4 and overlay.mp4: one segment job's speed, x264 presets, one job vs N.

    python benchmarks/bench_render.py                       # 720p and 1080p, 48 frames per row
    python benchmarks/bench_render.py --frames 24 --presets medium   # quicker

One table. Every row is ``salience.rendering.videos.render_segment`` (the segment job:
decode the source, read the maps from a chunk store, colour, blend, encode
both videos with libx264 at crf 18), run in a fresh process:

- ``threads``: frames/s of one job at each size for 1, 2, 4 x264 threads;
- ``preset``: the x264 presets at the first size: frames/s and the bytes per
  frame of the two videos (crf 18, the default quality);
- ``one job`` vs ``N jobs``: the same ``--frames`` frames of the last size
  rendered by one job, and by N segment jobs at once (processes) followed by
  ``join_videos`` (packets copied, no re-encoding). Wall times are scaled to
  ``--total`` frames linearly (measured on ``--frames``, so say so), and
  projected for a cluster where each of N nodes runs one segment job at the
  one-job rate: total / N / rate + join time.

The source is ffmpeg's testsrc2 (moving detail, no audio); the maps are a
smooth random field like the model's. Figures depend on the machine and its
load: give the core count and what else ran beside them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import harness


def smooth_log_density(width: int, height: int, seed: int) -> np.ndarray:
    import cv2

    coarse = 3 * np.random.default_rng(seed).standard_normal((max(2, height // 32), max(2, width // 32)))
    field = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return (field - np.log(np.exp(field.astype(np.float64)).sum())).astype(np.float32)


def prepare(folder: Path, frames: int, width: int, height: int):
    """A source video and one chunk store of its maps; (probe, store path)."""
    from salience import store, video

    source = harness.prepare_video(folder / f"source_{width}x{height}.mp4", frames, width, height)
    maps = folder / f"maps_{width}x{height}.zarr"
    store.write_frames(maps, ((i, smooth_log_density(width, height, i)) for i in range(frames)),
                       first=0, count=frames, height=height, width=width, attrs={})
    return video.probe(source), maps


def render_job(info, maps, start, stop, folder, preset="medium", threads=2):
    """One segment job in this process; (seconds, bytes of both videos)."""
    from salience.frames import FrameRange
    from salience.rendering import videos as render
    from salience.settings import Encoding

    name = FrameRange(start, stop).name
    heatmap, overlay = folder / "heatmap" / f"{name}.mp4", folder / "overlay" / f"{name}.mp4"
    began = time.perf_counter()
    render.render_segment([maps], info, start, stop, heatmap_path=heatmap, overlay_path=overlay,
                          encoding=Encoding(crf=18, preset=preset, threads=threads))
    return time.perf_counter() - began, heatmap.stat().st_size + overlay.stat().st_size


def isolated(*args, **kwargs):
    with ProcessPoolExecutor(1) as pool:
        return pool.submit(render_job, *args, **kwargs).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--frames", type=int, default=48, help="frames rendered per row")
    parser.add_argument("--threads", default="1,2,4")
    parser.add_argument("--presets", default="ultrafast,veryfast,fast,medium,slow")
    parser.add_argument("--jobs", type=int, default=2, help="N: segment jobs at once on this machine")
    parser.add_argument("--nodes", type=int, default=10, help="N of the cluster projection")
    parser.add_argument("--total", type=int, default=3000, help="frames of the one-vs-N comparison")
    parser.add_argument("--scratch", default=None, help="folder for the files (default: a temporary one)")
    args = parser.parse_args()
    sizes = [harness.parse_size(s) for s in args.sizes.split(",")]
    threads = harness.parse_list(args.threads, int)
    presets = harness.parse_list(args.presets)
    from salience import join
    from salience.frames import FrameRange

    print(f"{os.cpu_count()} CPUs; {args.frames} frames per row; crf 18; both videos per job")
    print("| row | size | frames/s | KiB/frame | wall s |")
    print("| --- | --- | ---: | ---: | ---: |")
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="bench_render_"))
    try:
        inputs = {size: prepare(scratch, args.frames, *size) for size in sizes}
        n = args.frames

        def row(label, size, seconds, size_bytes=None, frames=n):
            kib = f"{size_bytes / frames / 1024:.1f}" if size_bytes else ""
            print(f"| {label} | {size[0]}x{size[1]} | {frames / seconds:.1f} | {kib} | {seconds:.2f} |", flush=True)

        for size in sizes:
            for count in threads:
                seconds, size_bytes = isolated(*inputs[size], 0, n, scratch / f"t{count}", threads=count)
                row(f"threads {count} (medium)", size, seconds, size_bytes)
        for preset in presets:
            seconds, size_bytes = isolated(*inputs[sizes[0]], 0, n, scratch / f"p{preset}", preset=preset)
            row(f"preset {preset} (2 threads)", sizes[0], seconds, size_bytes)

        size = sizes[-1]
        info, maps = inputs[size]
        one, _ = isolated(info, maps, 0, n, scratch / "one", threads=2)
        bounds = [n * k // args.jobs for k in range(args.jobs + 1)]
        folder = scratch / "many"
        began = time.perf_counter()
        with ProcessPoolExecutor(args.jobs) as pool:
            list(pool.map(render_job, [info] * args.jobs, [maps] * args.jobs, bounds[:-1], bounds[1:],
                          [folder] * args.jobs, ["medium"] * args.jobs, [max(1, 2 // args.jobs)] * args.jobs))
        parallel = time.perf_counter() - began
        began = time.perf_counter()
        for kind in ("heatmap", "overlay"):
            parts = [folder / kind / f"{FrameRange(a, b).name}.mp4" for a, b in zip(bounds, bounds[1:])]
            join.join_videos(parts, info, scratch / f"{kind}.mp4")
        join = time.perf_counter() - began
        scale = args.total / n
        row("one job", size, one)
        row(f"{args.jobs} segment jobs at once + join", size, parallel + join)
        print(f"\njoin (both videos, {n} frames): {join:.2f} s")
        print(f"{args.total} frames at {size[0]}x{size[1]}, scaled from {n}: one job {one * scale / 60:.1f} min, "
              f"{args.jobs} jobs here {(parallel + join) * scale / 60:.1f} min, "
              f"{args.nodes} nodes (one job each, projected) {(one * scale / args.nodes + join * scale) / 60:.1f} min")
    finally:
        if args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
