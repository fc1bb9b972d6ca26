"""Decoding speed: PyAV (salience.video.read_frames) with 1, 2, 4 threads vs the old OpenCV path.

    python benchmarks/bench_decode.py                         # 720p and 1080p, 120 frames each
    python benchmarks/bench_decode.py --frames 300 --threads 1,2,4,8

Each row decodes the same H.264 clip (ffmpeg's testsrc2 pattern, libx264
veryfast, crf 18, B-frames, made once in --scratch) to RGB uint8 frames, as
the prediction jobs consume them: ``read_frames`` (PyAV, frame and slice
threads) and, for comparison, ``cv2.VideoCapture`` + ``cvtColor`` (the
reader this workflow used before PyAV). Frames/s is the best of --repeats
runs. Thread counts above the machine's cores only add contention.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import harness
from harness import Timer


def decode_pyav(path: Path, threads: int) -> int:
    from salience.video import read_frames

    return sum(1 for _ in read_frames(path, threads=threads))


def decode_opencv(path: Path) -> int:
    import cv2

    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    count = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        count += 1
    capture.release()
    return count


def frames_per_second(decode, repeats: int, frames: int) -> float:
    best = 0.0
    for _ in range(max(1, repeats)):
        timer = Timer()
        count = decode()
        if count != frames:
            raise SystemExit(f"decoded {count} frames, expected {frames}")
        best = max(best, frames / timer.seconds())
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--threads", default="1,2,4")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scratch", default=None, help="folder for the clips (default: a temporary one)")
    args = parser.parse_args(argv)
    harness.ensure_importable()
    sys.path.insert(0, str(harness.REPO / "workflow_scripts"))
    import cv2

    sizes = [harness.parse_size(s) for s in args.sizes.split(",")]
    threads = harness.parse_list(args.threads, int)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        for width, height in sizes:
            clip = harness.prepare_video(Path(scratch) / f"clip_{width}x{height}.mp4", args.frames, width, height)
            row = [f"{width}x{height}"]
            for count in threads:
                row.append(frames_per_second(lambda: decode_pyav(clip, count), args.repeats, args.frames))
            row.append(frames_per_second(lambda: decode_opencv(clip), args.repeats, args.frames))
            rows.append(row)
    import av

    print(f"# decode to RGB, H.264 {args.frames} frames, best of {args.repeats}; PyAV {av.__version__} "
          f"(FFmpeg {getattr(av, 'ffmpeg_version_info', '?')}), "
          f"OpenCV {cv2.__version__}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    header = ["size"] + [f"PyAV {n} thread{'s' if n > 1 else ''} (frames/s)" for n in threads] + ["OpenCV (frames/s)"]
    print(harness.markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
