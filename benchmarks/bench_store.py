"""Writing log-density maps to zarr: frames/s and bytes per frame, by dtype and writer threads.

    python benchmarks/bench_store.py                      # 1280x720 and 1920x1080, 60 frames
    python benchmarks/bench_store.py --threads 1,2,4,8    # on a machine with more cores

Each row writes the same ``--frames`` maps with ``salience.store.write_frames``
(the writer of the prediction jobs: per-frame chunks, the codec of
``store.COMPRESSORS``, background threads, atomic rename) into a fresh store on the disk that holds
``--scratch``. The maps look like the model's: a coarse random field
(1/32 of the frame) upsampled bilinearly, normalized to a log-density;
values around -14 (720p) to -15 (1080p). The error columns compare what is
read back with the float32 maps.

At hundreds of frames/s (a GPU at 720p) the writer needs several threads;
the prediction job writes with one per CPU it was given (``threads``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import harness
from harness import Timer


def smooth_log_densities(count: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(seed)
    maps = []
    for _ in range(count):
        coarse = 3 * torch.randn(1, 1, max(2, height // 32), max(2, width // 32), generator=generator)
        field = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)[0, 0]
        maps.append((field - torch.logsumexp(field.double().ravel(), 0).float()).numpy())
    return maps


def codec_name(codec) -> str:
    described = codec.to_dict()
    settings = described.get("configuration", {})
    if described["name"] == "blosc":
        return f"blosc {settings['cname']} {settings['shuffle']}"
    return f"{described['name']} level {settings.get('level')}"


def disk_bytes(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], check=True, capture_output=True,
                              text=True).stdout.split()[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--threads", default="1,2", help="writer thread counts to compare")
    parser.add_argument("--repeats", type=int, default=2, help="best frames/s of this many writes")
    parser.add_argument("--scratch", default=None, help="directory to write in (default: the temp dir)")
    args = parser.parse_args(argv)

    import torch

    from zarr.codecs import ZstdCodec

    from salience import store

    CHOSEN = dict(store.COMPRESSORS)
    store.WRITE_THREADS = 1  # the floor of writer threads: here ``--threads`` alone decides

    print(f"# bench_store: {harness.machine_line(torch.device('cpu'))}")
    print(f"# {args.frames} frames per write, best of {args.repeats}; size on disk by du -sb\n")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_store_", dir=args.scratch) as scratch:
        for width, height in (harness.parse_size(s) for s in harness.parse_list(args.sizes)):
            maps = smooth_log_densities(args.frames, width, height)
            for dtype, codec in [(dtype, "chosen") for dtype in store.STORE_DTYPES] + [("float32", "zstd")]:
                # "zstd": zarr's default codec, which float32 stores used before
                store.COMPRESSORS = {**CHOSEN, "float32": [ZstdCodec(level=3)]} if codec == "zstd" else CHOSEN
                for threads in harness.parse_list(args.threads, int):
                    best = 0.0
                    for _ in range(args.repeats):
                        target = Path(scratch) / f"{width}x{height}-{dtype}-{threads}.zarr"
                        shutil.rmtree(target, ignore_errors=True)
                        timer = Timer()
                        store.write_frames(target, enumerate(maps), first=0, count=len(maps),
                                           height=height, width=width, attrs={}, dtype=dtype,
                                           threads=threads)
                        best = max(best, len(maps) / timer.seconds())
                    back = store.open_array(target)[:].astype(np.float64)
                    error = np.abs(back - np.stack(maps))
                    rows.append([f"{width}x{height}", dtype, codec_name(store.COMPRESSORS[dtype][0]),
                                 threads, best,
                                 disk_bytes(target) / len(maps) / 1e6, float(error.max()), float(error.mean())])
                    print(f"  {rows[-1][:5]}", file=sys.stderr, flush=True)
    print(harness.markdown_table(
        ["size", "dtype", "codec", "writer threads", "frames/s", "MB per frame", "max abs err", "mean abs err"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
