"""Command line: each step of the workflow, runnable by hand.

    python -m salience probe VIDEO --output probe.json
    python -m salience download --model deepgaze_mr --weights official --output weights.json
    python -m salience predict VIDEO --output saliency.zarr [--start S --stop T]
    python -m salience assemble CHUNK... --probe probe.json --output saliency.zarr
    python -m salience render STORE VIDEO --heatmap heatmap.mp4 --overlay overlay.mp4
    python -m salience export STORE [--png-dir DIR] [--npy-dir DIR]
    python -m salience {evaluate,summarize,aoi,concentration,human,snapshots} ...  (eye-tracking data)

The Snakemake rules call these; ``python -m salience STEP --help`` lists the
options. Bad input ends with one line naming the problem (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .errors import SalienceError

log = logging.getLogger("salience")


def _write_json_atomically(path: str | Path, data: dict) -> None:
    from .atomic import write_text

    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


# --- probe -------------------------------------------------------------------

def cmd_probe(args) -> None:
    from .video import probe

    info = probe(args.video, verify=True)
    if args.expect_frames is not None and info.frame_count != args.expect_frames:
        raise SalienceError(
            f"{args.video}: its container says {args.expect_frames} frames but "
            f"{info.frame_count} decode. Remux it so the count is right "
            f"(ffmpeg -i {args.video} -c copy fixed.mkv) and use the remuxed file."
        )
    _write_json_atomically(args.output, info.to_dict())
    log.info("%s: %d frames, %.3f fps, %dx%d, audio: %s", args.video, info.frame_count,
             info.fps, info.width, info.height, info.has_audio)


# --- download ------------------------------------------------------------------

def cmd_download(args) -> None:
    """Fetch (or check) the files a model needs; record their paths and sha256.

    The checkpoint is "official" (downloaded) or a path (checked); the
    model's own center bias is fetched too unless the run brings its own.
    """
    from . import weights
    from .models import OFFICIAL_FILES_OF, build_model

    record = {"model": args.model, "weights": args.weights, "files": {}}
    if args.weights == "untrained":
        record["weights_sha256"] = "untrained"
    else:
        checkpoint_key, *center_bias_keys = OFFICIAL_FILES_OF[args.model]
        files = {checkpoint_key: weights.resolve(args.weights, checkpoint_key, download=True)}
        if args.center_bias == "default":
            files.update({key: weights.fetch(key, download=True) for key in center_bias_keys})
        for key, path in files.items():
            record["files"][key] = {"path": str(Path(path).resolve()), "sha256": weights.sha256sum(path)}
        record["weights_sha256"] = record["files"][checkpoint_key]["sha256"]
        build_model(args.model, weights=files[checkpoint_key])  # a bad file fails here, not on a GPU node
    _write_json_atomically(args.output, record)


# --- predict ---------------------------------------------------------------------

def load_center_bias(spec: str | None):
    """Config ``center_bias``: "default" (the model's), "uniform", or a file.

    A file holds an H x W probability map (any size; resized to the frame):
    ``.npy`` or a torch-saved tensor (``.pt``).
    """
    import numpy as np

    if spec in (None, "default"):
        return None
    if spec == "uniform":
        return np.ones((1, 1), np.float32)
    path = Path(spec)
    if not path.is_file():
        raise SalienceError(f"center bias file {path} does not exist (config 'center_bias')")
    if path.suffix == ".npy":
        cb = np.load(path)
    else:
        from .weights import load_checkpoint

        cb = np.asarray(load_checkpoint(path))
    if cb.ndim != 2 or not np.isfinite(cb).all() or (cb < 0).any() or cb.sum() <= 0:
        raise SalienceError(f"{path}: a center bias must be a finite, non-negative H x W map")
    return (cb / cb.sum()).astype(np.float32)


def configure_per_frame_model(model, scale: float, fixation_history: str) -> None:
    """Scale and fixation history apply to the image models (IIE, III) only."""
    from .errors import ConfigError
    from .models._deepgaze_common import FixationHistory, FrameByFrame

    if not isinstance(model, FrameByFrame):
        if scale != 1.0:
            raise ConfigError("'scale' applies to deepgaze_iie and deepgaze_iii only; DeepGaze MR "
                              "runs at full resolution (set scale: 1.0)")
        return
    if not 0 < scale <= 4:
        raise ConfigError(f"'scale' must be in (0, 4], got {scale}")
    model.scale = scale
    model.fixation_history = FixationHistory(fixation_history)


def cmd_predict(args) -> None:
    from . import store
    from .models import build_model
    from .predict import Progress, predict_range
    from .video import probe

    if args.offline:
        os.environ["SALIENCE_OFFLINE"] = "1"  # compute nodes: the cache must have the files
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    info = probe(args.video, verify=False)
    start = args.start
    stop = info.frame_count if args.stop is None else args.stop
    if not 0 <= start < stop <= info.frame_count:
        raise SalienceError(f"{args.video}: frames [{start}, {stop}) are not within its {info.frame_count} frames")
    model = build_model(args.model, weights=None if args.weights == "untrained" else args.weights)
    configure_per_frame_model(model, args.scale, args.fixation_history)
    progress = Progress(stop - start, f"{Path(args.video).name} [{start}, {stop})")
    center_bias = load_center_bias(args.center_bias)
    # What the prediction adds to every frame (the stream computes the same
    # call): stored beside the maps for metrics and plots.
    log_center_bias = model.log_center_bias(info.height, info.width, center_bias).float().numpy()
    frames = predict_range(
        model, args.video, start, stop,
        center_bias=center_bias, head=args.head,
        batch_size=args.batch_size, device=args.device, dtype=args.precision,
    )
    attrs = {
        "model": args.model, "weights": args.weights, "head": args.head,
        "center_bias": args.center_bias, "precision": args.precision,
        "start": start, "stop": stop, "fps": info.fps, "source": str(args.video),
        "scale": args.scale, "fixation_history": args.fixation_history,
    }
    store.write_frames(args.output, frames, first=start, count=stop - start,
                       height=info.height, width=info.width, attrs=attrs, dtype=args.store_dtype,
                       threads=args.threads, on_frame=progress.update, log_center_bias=log_center_bias,
                       shard_frames=args.shard_frames, allow_nan_before=nan_head(args.model, args.head))


# --- assemble --------------------------------------------------------------------

def cmd_assemble(args) -> None:
    from . import store

    info = json.loads(Path(args.probe).read_text())
    timestamps = info.pop("timestamps", None)  # per frame: the time coordinate, not an attribute
    attrs = dict(info)
    attrs.update(json.loads(args.attrs) if args.attrs else {})
    if args.weights_record:
        record = json.loads(Path(args.weights_record).read_text())
        attrs["weights_sha256"] = record["weights_sha256"]
        attrs["weights_files"] = record["files"]
    if args.chunks_dir:
        for path in store.remove_unplanned_chunks(args.chunks_dir, args.chunks):
            log.info("removed %s (not in the chunk plan, or left by a killed job)", path)
    store.assemble(args.chunks, args.output, frame_count=info["frame_count"], attrs=attrs,
                   dtype=args.store_dtype, timestamps=timestamps)


def nan_head(model: str, head: str) -> int:
    """Frames left NaN at the start of a video: the "skip" head has no full window there."""
    from .models import TEMPORAL_WINDOW

    return TEMPORAL_WINDOW.get(model, 1) - 1 if head == "skip" else 0


# --- render / export ---------------------------------------------------------------

def cmd_render(args) -> None:
    from .render import render_videos

    render_videos(
        args.store, args.video, heatmap_path=args.heatmap, overlay_path=args.overlay,
        cmap=args.colormap, normalization=args.normalization, opacity=args.opacity,
        audio=args.audio, crf=args.crf,
    )


def cmd_export(args) -> None:
    from .render import export_frames

    export_frames(args.store, png_dir=args.png_dir, npy_dir=args.npy_dir,
                  cmap=args.colormap, normalization=args.normalization)


def store_dtype_option(p) -> None:
    from .store import STORE_DTYPES

    p.add_argument("--store-dtype", choices=STORE_DTYPES, default="float32",
                   help="storage of the log-densities: float32 (exact), float16 (within 0.008), "
                        "quantized (within 2**-11)")


def build_parser() -> argparse.ArgumentParser:
    from .models import MODEL_NAMES
    from .store import SHARD_FRAMES
    from .predict import HEAD_POLICIES, PRECISIONS

    parser = argparse.ArgumentParser(prog="python -m salience", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)

    p = steps.add_parser("probe", help="verified frame count, fps, size, audio of a video")
    p.add_argument("video")
    p.add_argument("--output", required=True, help="JSON file to write")
    p.add_argument("--expect-frames", type=int, help="fail unless the decoded count equals this")
    p.set_defaults(func=cmd_probe)

    p = steps.add_parser("download", help="fetch and verify a model's official files")
    p.add_argument("--model", choices=MODEL_NAMES, default="deepgaze_mr")
    p.add_argument("--weights", default="official", help="official, untrained, or a checkpoint path")
    p.add_argument("--center-bias", default="default",
                   help="'default' also fetches the model's center bias; anything else skips it")
    p.add_argument("--output", required=True, help="JSON record of the files and their sha256")
    p.set_defaults(func=cmd_download)

    p = steps.add_parser("predict", help="predict frames [start, stop) of a video into a zarr store")
    p.add_argument("video")
    p.add_argument("--output", required=True, help="zarr store to write (atomically)")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--stop", type=int, help="default: the end of the video")
    p.add_argument("--model", choices=MODEL_NAMES, default="deepgaze_mr")
    p.add_argument("--weights", default="official", help="official, untrained, or a checkpoint path")
    p.add_argument("--center-bias", default="default", help="default, uniform, or a .npy/.pt file")
    p.add_argument("--head", choices=HEAD_POLICIES, default="partial")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--precision", choices=list(PRECISIONS), default="fp32")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int,
                   help="CPU threads for torch and for compressing the store (default: torch's choice)")
    p.add_argument("--fixation-history", default="center",
                   help="DeepGaze III: 'center' or a CSV of frame,x,y (gaze per frame)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="IIE/III: resize frames by this factor for the model (1.0: full resolution)")
    p.add_argument("--offline", action="store_true", help="never download; the cache must hold the files")
    store_dtype_option(p)
    p.add_argument("--shard-frames", type=int, default=SHARD_FRAMES,
                   help="frames per shard file; --start must be a multiple of it for assembly")
    p.set_defaults(func=cmd_predict)

    p = steps.add_parser("assemble", help="join chunk stores into one store")
    p.add_argument("chunks", nargs="+")
    p.add_argument("--probe", required=True, help="the video's probe JSON")
    p.add_argument("--output", required=True)
    p.add_argument("--weights-record", help="JSON written by the download step")
    p.add_argument("--attrs", help="JSON object of extra attributes (the config that shaped the result)")
    p.add_argument("--chunks-dir", help="remove chunk stores here that are not among CHUNK... (a changed plan)")
    store_dtype_option(p)
    p.set_defaults(func=cmd_assemble)

    def rendering_options(p):
        p.add_argument("--colormap", default="inferno", help="any matplotlib colormap name")
        p.add_argument("--normalization", choices=["frame", "global"], default="frame")

    p = steps.add_parser("render", help="heatmap and overlay videos (H.264)")
    p.add_argument("store")
    p.add_argument("video")
    p.add_argument("--heatmap", required=True)
    p.add_argument("--overlay", required=True)
    rendering_options(p)
    p.add_argument("--opacity", type=float, default=0.5)
    p.add_argument("--crf", type=int, default=18)
    p.add_argument("--no-audio", dest="audio", action="store_false")
    p.set_defaults(func=cmd_render)

    p = steps.add_parser("export", help="per-frame PNG heatmaps and/or .npy log-densities")
    p.add_argument("store")
    p.add_argument("--png-dir")
    p.add_argument("--npy-dir")
    rendering_options(p)
    p.set_defaults(func=cmd_export)

    from .cli_evaluation import add_evaluation_steps

    add_evaluation_steps(steps)
    return parser


def _exit_on_sigterm(signum, frame):
    # Slurm (scancel, preemption, time limit) and Snakemake stop jobs with
    # SIGTERM. As SystemExit it unwinds the stack, so half-written outputs are
    # removed rather than left behind as hidden temporary directories.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    import signal

    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except SalienceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
