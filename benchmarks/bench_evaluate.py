"""Evaluating maps against gaze: seconds and peak memory of `python -m salience evaluate`.

    python benchmarks/bench_evaluate.py                                   # 1080p, 250 and 1000 frames
    python benchmarks/bench_evaluate.py --size 1280x720 --frames 100,400

For each ``--frames`` N: a float32 store of N 1080p maps (written with
``salience.store``, the prediction's codec; the maps are smooth random fields
like the model's, 16 distinct ones cycled) and a gaze CSV of ``--points``
points per frame at random pixels. The real command runs in a child process;
wall time, CPU time and peak RSS are its own. Peak RSS that does not grow with N shows
that memory is flat.

The shuffled AUC compares each frame's points with every other frame's, so
a frame costs more in a longer video. The last line therefore times frames
against a gaze table as large as ``--video-frames`` frames would have (same
code, first N frames) and extrapolates to the whole video. Reading is from
the page cache where the store still sits there (a fresh disk read adds the
disk's time for about 5.4 MB per 1080p frame).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import harness

HERE = Path(__file__).resolve().parent


def smooth_log_density(rng, width: int, height: int) -> np.ndarray:
    import cv2

    coarse = 3.0 * rng.normal(size=(max(2, height // 32), max(2, width // 32))).astype(np.float32)
    field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    peak = field.max()
    return (field - (peak + math.log(np.exp(field - peak).sum()))).astype(np.float32)


def make_store(path: Path, frames: int, width: int, height: int, fps: float, seed: int = 0) -> None:
    from salience import store

    rng = np.random.default_rng(seed)
    distinct = [smooth_log_density(rng, width, height) for _ in range(min(16, frames))]
    center = smooth_log_density(rng, width, height)
    store.write_frames(path, ((i, distinct[i % len(distinct)]) for i in range(frames)), first=0, count=frames,
                       height=height, width=width, attrs={"fps": fps, "frame_count": frames},
                       log_center_bias=center)


def make_gaze(path: Path, frames: int, points: int, width: int, height: int, fps: float, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    count = frames * points
    times = (np.repeat(np.arange(frames), points) + 0.5) / fps
    x = rng.uniform(0, width, count)
    y = rng.uniform(0, height, count)
    with open(path, "w") as handle:
        handle.write("participant,time,x,y\n")
        for i in range(count):
            handle.write(f"p{i % points},{times[i]:.6f},{x[i]:.2f},{y[i]:.2f}\n")


def make_inputs(store: Path, gaze: Path, frames: int, points: int, width: int, height: int, fps: float) -> None:
    make_store(store, frames, width, height, fps)
    make_gaze(gaze, frames, points, width, height, fps)


def run_evaluate(store: Path, gaze: Path, output: Path, pixels_per_degree: float) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of the real command in a child process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(harness.REPO / "workflow_scripts"),
                                                       os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "salience", "evaluate", str(store), "--gaze", str(gaze),
               "--output", str(output), "--pixels-per-degree", str(pixels_per_degree)]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    stderr = process.stderr.read().decode()
    process.stderr.close()
    if status != 0:
        raise SystemExit(f"evaluate failed:\n{stderr}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def per_frame_in_long_video(store: Path, frames: int, video_frames: int, points: int, width: int, height: int,
                            pixels_per_degree: float) -> float:
    """Seconds per frame for the first ``frames`` frames, with a gaze table of ``video_frames`` frames."""
    from salience.evaluation.density import sigma_pixels
    from salience.background import map_ahead
    from salience.evaluation.evaluate import log_center_bias
    from salience.store import open_store
    from salience.evaluation.gaze import GazeOnFrames
    from salience.evaluation.metrics import VideoEvaluator

    rng = np.random.default_rng(2)
    count = video_frames * points
    gaze = GazeOnFrames(np.arange(video_frames), np.arange(0, count + 1, points),
                        rng.integers(0, width, count), rng.integers(0, height, count), {})
    group = open_store(store)
    evaluator = VideoEvaluator(gaze, log_center_bias(group, store), sigma_pixels(pixels_per_degree))
    array = group["log_density"]
    start = time.perf_counter()  # as evaluate() does: read and evaluate on 2 threads
    for _ in map_ahead(lambda k: evaluator.frame(k, np.asarray(array[k], np.float32)), range(frames), workers=2):
        pass
    return (time.perf_counter() - start) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--frames", default="250,1000", help="store lengths to time (comma-separated)")
    parser.add_argument("--points", type=int, default=30, help="gaze points per frame")
    parser.add_argument("--video-frames", type=int, default=10000, help="video length to extrapolate to")
    parser.add_argument("--pixels-per-degree", type=float, default=40.0)
    parser.add_argument("--scratch", default=None, help="directory for the stores (default: a temporary one)")
    args = parser.parse_args()
    width, height = harness.parse_size(args.size)
    lengths = harness.parse_list(args.frames, int)
    fps = 30.0
    print(f"# evaluate: {width}x{height}, {args.points} points per frame, {os.cpu_count()} CPUs")
    print()
    print(f"load average before: {os.getloadavg()[0]:.1f} (other work on the machine slows the wall time)")
    print()
    print("| frames | points | wall s | ms/frame | CPU s | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(dir=args.scratch, prefix="bench_evaluate.") as scratch:
        scratch = Path(scratch)
        store = None
        for frames in lengths:
            store = scratch / f"saliency_{frames}.zarr"
            gaze = scratch / f"gaze_{frames}.csv"
            # In a fresh process: a child forked from a parent that made the
            # store would report the parent's memory as its own peak.
            maker = multiprocessing.get_context("spawn").Process(
                target=make_inputs, args=(store, gaze, frames, args.points, width, height, fps))
            maker.start()
            maker.join()
            if maker.exitcode != 0:
                raise SystemExit(f"making the {frames}-frame store failed")
            wall, cpu, rss = run_evaluate(store, gaze, scratch / f"metrics_{frames}.csv", args.pixels_per_degree)
            print(f"| {frames} | {frames * args.points} | {wall:.1f} | {1000 * wall / frames:.1f} | {cpu:.1f} "
                  f"| {rss:.0f} |")
            if frames != lengths[-1]:
                import shutil

                shutil.rmtree(store)
        timed = lengths[-1]
        cpu_start = time.process_time()
        seconds = per_frame_in_long_video(store, timed, args.video_frames, args.points, width, height,
                                          args.pixels_per_degree)
        cpu_seconds = (time.process_time() - cpu_start) / timed
        print()
        print(f"With the gaze table of a {args.video_frames}-frame video "
              f"({args.video_frames * args.points} points; first {timed} frames timed): "
              f"{1000 * seconds:.1f} ms/frame, so {args.video_frames} frames take about "
              f"{args.video_frames * seconds / 60:.2f} min (extrapolated; CPU {1000 * cpu_seconds:.1f} ms/frame, "
              f"i.e. {args.video_frames * cpu_seconds / 120:.2f} min on 2 idle cores).")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
