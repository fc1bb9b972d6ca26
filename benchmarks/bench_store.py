"""saliency.zarr on disk: files, bytes per frame, error, read speed, assembly time. One table.

    python benchmarks/bench_store.py --video bigbuckbunny.mp4           # 1080p, 8 maps, 3,000-frame assembly
    python benchmarks/bench_store.py --maps maps.npy                    # maps saved by an earlier run (--save-maps)

Storage rows: real maps, i.e. DeepGaze MR with the fixtures' recipe weights
(tests/helpers/recipe.py) and a Gaussian center bias, run on ``--frames`` frames of
``--video`` scaled to ``--size`` (a few minutes on 2 CPU cores at 1080p).
Each storage (``salience.store.STORE_DTYPES``) writes them with the
prediction jobs' writer (shards of ``--shard-frames``); bytes per frame are
``du -sb`` of the store over the frames; the error is the largest
|log-density - float32 map|; reading is frame by frame, as float32, best of 3
passes; "20 min at 30 fps" scales bytes per frame to 36,000 frames.

Assembly rows: ``--assembly-frames`` synthetic smooth 1080p maps (a coarse
random field upsampled bilinearly: the real ones take too long to compute
on a CPU) in chunk stores of ``--chunk-frames``, stored as
``--assembly-storage``. "before" is what assembly did until now: read every
frame of every chunk store and compress it again into one chunk per frame
(two writer threads); "after" is ``salience.store.assemble``: metadata and
hard links to the chunks' shard files. Files counts every file in the store.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import harness
from harness import Timer

FRAMES_IN_20_MINUTES = 20 * 60 * 30


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


def recipe_maps(video: Path, frames: int, width: int, height: int, scratch: Path) -> np.ndarray:
    import torch

    from salience.predict import predict_range

    scaled = harness.prepare_video(scratch / "scaled.mp4", frames, width, height, source=video)
    model = harness.build_recipe_model(torch.device("cpu"), seed=1)
    y, x = np.mgrid[0:90, 0:160]
    center_bias = np.exp(-(((x - 80) / 40.0) ** 2 + ((y - 45) / 25.0) ** 2) / 2) + 0.02
    center_bias = (center_bias / center_bias.sum()).astype(np.float32)
    maps = np.empty((frames, height, width), np.float32)
    for index, log_density in predict_range(model, scaled, 0, frames, center_bias=center_bias, device="cpu",
                                            batch_size=2):
        maps[index] = log_density
        print(f"  map {index + 1}/{frames}", file=sys.stderr, flush=True)
    return maps


def disk_bytes(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], check=True, capture_output=True,
                              text=True).stdout.split()[0])


def file_count(path: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(path))


def read_frames_per_second(path: Path, passes: int = 3) -> float:
    from salience import store

    array = store.open_array(path)
    best = 0.0
    for _ in range(passes):
        timer = Timer()
        for index in range(array.shape[0]):
            np.asarray(array[index], dtype=np.float32)
        best = max(best, array.shape[0] / timer.seconds())
    return best


def before_assembly(chunk_paths: list[Path], target: Path) -> None:
    """The old assembly: every frame read and compressed again, one chunk per frame."""
    import zarr

    from salience import store

    sources = [store.open_array(path) for path in chunk_paths]
    frame_count = sum(source.shape[0] for source in sources)
    reference = sources[0]
    group = zarr.open_group(str(target), mode="w-", zarr_format=3)
    array = group.create_array(
        store.ARRAY, shape=(frame_count, *reference.shape[1:]), chunks=(1, *reference.shape[1:]),
        dtype=reference.dtype, fill_value=np.nan, serializer=reference.serializer,
        compressors=reference.compressors, dimension_names=store.DIMS)
    with ThreadPoolExecutor(2) as pool:
        position = 0
        pending = []
        for source in sources:
            for offset in range(source.shape[0]):
                frame = source[offset]
                pending.append(pool.submit(array.__setitem__, position, frame))
                position += 1
                if len(pending) > 4:
                    pending.pop(0).result()
        for future in pending:
            future.result()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", help="a real video for the maps (scaled to --size)")
    parser.add_argument("--maps", help="an .npy of T x H x W float32 log-densities instead of --video")
    parser.add_argument("--save-maps", help="save the computed maps here (.npy) for later runs")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--frames", type=int, default=8, help="maps computed from --video")
    parser.add_argument("--shard-frames", type=int, default=20)
    parser.add_argument("--assembly-frames", type=int, default=3000, help="0: no assembly rows")
    parser.add_argument("--chunk-frames", type=int, default=300)
    parser.add_argument("--assembly-storage", default="quantized")
    parser.add_argument("--scratch", default=None, help="directory to write in (default: the temp dir)")
    args = parser.parse_args(argv)

    import torch

    from salience import store
    from salience.settings import Storage

    width, height = harness.parse_size(args.size)
    print(f"# bench_store: {harness.machine_line(torch.device('cpu'))}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_store_", dir=args.scratch) as scratch:
        scratch = Path(scratch)
        if args.maps:
            maps = np.load(args.maps, mmap_mode="r")
            maps = np.asarray(maps, np.float32)
            source = f"maps from {args.maps}"
        elif args.video:
            if not Path(args.video).is_file():
                parser.error(f"--video {args.video}: no such file")
            maps = recipe_maps(Path(args.video), args.frames, width, height, scratch)
            source = f"recipe-weight DeepGaze MR maps of {Path(args.video).name} scaled to {width}x{height}"
            if args.save_maps:
                np.save(args.save_maps, maps)
        else:
            parser.error("give --video (a real video) or --maps")
        count, map_height, map_width = maps.shape
        print(f"# storage rows: {count} {source}, shards of {args.shard_frames} frames")

        for storage in store.STORE_DTYPES:
            target = scratch / f"{storage}.zarr"
            store.write_frames(target, enumerate(maps), first=0, count=count, height=map_height,
                               width=map_width, attrs={}, storage=Storage(storage, args.shard_frames))
            back = store.open_array(target)[:].astype(np.float64)
            per_frame = disk_bytes(target) / count
            rows.append([f"shards of {args.shard_frames}, {storage}", None, per_frame / 1e3,
                         per_frame * FRAMES_IN_20_MINUTES / 1e9, float(np.abs(back - maps).max()),
                         read_frames_per_second(target), None])
            print(f"  {rows[-1]}", file=sys.stderr, flush=True)
            shutil.rmtree(target)

        if args.assembly_frames:
            print(f"# assembly rows: {args.assembly_frames} synthetic smooth {width}x{height} maps, "
                  f"{args.assembly_storage}, chunks of {args.chunk_frames}, shards of {args.shard_frames}")
            chunk_paths = synthetic_chunks(scratch / "chunks", args, width, height)
            before = scratch / "before.zarr"
            timer = Timer()
            before_assembly(chunk_paths, before)
            seconds = timer.seconds()
            rows.append([f"assembly before: re-read + re-encode, 1 chunk file per frame, {args.assembly_storage}",
                         file_count(before), None, None, None, None, seconds])
            shutil.rmtree(before)
            after = scratch / "saliency.zarr"
            timer = Timer()
            store.assemble(chunk_paths, after, frame_count=args.assembly_frames, attrs={"fps": 30.0},
                           dtype=args.assembly_storage)
            seconds = timer.seconds()
            rows.append([f"assembly after: shard files linked, {args.assembly_storage}", file_count(after),
                         None, None, None, None, seconds])
    print(harness.markdown_table(
        ["store", "files", "kB per frame", "GB per 20 min at 30 fps", "max abs error vs float32",
         "read frames/s", "assembly s"], rows))
    return 0


def synthetic_chunks(folder: Path, args, width: int, height: int) -> list[Path]:
    """Chunk stores of ``args.assembly_frames`` frames: the first written, the others copies
    of it with their own first frame (writing 3,000 1080p maps would take longer than the rest)."""
    from salience import store
    from salience.settings import Storage

    maps = smooth_log_densities(args.chunk_frames, width // 8, height // 8)
    import torch
    import torch.nn.functional as F

    def full_size(index, low):
        field = F.interpolate(torch.from_numpy(low)[None, None], size=(height, width), mode="bilinear",
                              align_corners=False)[0, 0].double()
        return index, (field - torch.logsumexp(field.ravel(), 0)).float().numpy()

    paths = []
    first_path = folder / f"{0:07d}-{args.chunk_frames:07d}.zarr"
    store.write_frames(first_path, (full_size(i, m) for i, m in enumerate(maps)), first=0,
                       count=args.chunk_frames, height=height, width=width, attrs={},
                       storage=Storage(args.assembly_storage, args.shard_frames))
    for first in range(0, args.assembly_frames, args.chunk_frames):
        stop = min(first + args.chunk_frames, args.assembly_frames)
        if stop - first != args.chunk_frames:
            raise SystemExit("--assembly-frames must be a multiple of --chunk-frames")
        path = folder / f"{first:07d}-{stop:07d}.zarr"
        if first:
            shutil.copytree(first_path, path)
            metadata = path / "zarr.json"
            document = json.loads(metadata.read_text())
            document["attributes"]["first_frame"] = first
            metadata.write_text(json.dumps(document))
        paths.append(path)
    return paths


if __name__ == "__main__":
    sys.exit(main())
