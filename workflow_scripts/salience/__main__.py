"""Command line: each step of the workflow, runnable by hand.

    python -m salience probe VIDEO --output probe.json
    python -m salience download --model deepgaze_mr --weights official --output weights.json
    python -m salience predict VIDEO --weights-record weights.json --output saliency.zarr [--start S --stop T]
    python -m salience assemble CHUNK... --probe probe.json --output saliency.zarr
    python -m salience render STORE VIDEO --heatmap heatmap.mp4 --overlay overlay.mp4
    python -m salience export STORE [--png-dir DIR] [--npy-dir DIR]

The Snakemake rules call these; ``python -m salience STEP --help`` lists the
options. Bad input ends with one line naming the problem (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import logging
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
    """Resolve every file the model needs (fetch official ones, check local
    ones) and write the weights record that prediction reads."""
    from . import weights

    record = weights.resolve(args.model, args.weights, args.center_bias)
    weights.write_record(args.output, record)
    for role, entry in record["files"].items():
        log.info("%s: %s (sha256 %s)", role, entry["path"], entry["sha256"])


# --- predict ---------------------------------------------------------------------

def configure_model_options(model, name: str, scale: float, fixation_history: str) -> None:
    """``scale`` and ``fixation_history`` go to the models they apply to (the registry says which)."""
    from .errors import ConfigError
    from .models import describe

    description = describe(name)
    if not description.applies("scale"):
        if scale != 1.0:
            raise ConfigError(f"'scale' does not apply to {name}, which runs at full resolution "
                              "(set scale: 1.0)")
    elif not 0 < scale <= 4:
        raise ConfigError(f"'scale' must be in (0, 4], got {scale}")
    else:
        model.scale = scale
    if description.applies("fixation_history"):
        from .models.per_frame import FixationHistory

        model.fixation_history = FixationHistory(fixation_history)


def load_for_prediction(record: dict):
    """The model and center bias a weights record names (files already checked)."""
    from .models import build_model
    from .models.center_bias import UNIFORM, load_center_bias

    files = record["files"]
    model = build_model(record["model"], weights=files["checkpoint"]["path"] if "checkpoint" in files else None)
    center_bias = UNIFORM
    if "center_bias" in files:
        center_bias = load_center_bias(files["center_bias"]["path"], files["center_bias"]["format"])
    return model, center_bias


def cmd_predict(args) -> None:
    from . import store, weights
    from .predict import Progress, predict_range
    from .video import probe

    if args.weights_record:
        record = weights.read_record(args.weights_record)
    elif args.weights == "untrained":  # tests and benchmarks: no files at all
        record = weights.resolve(args.model, "untrained", "uniform")
    else:
        raise SalienceError("predict needs --weights-record (written by 'python -m salience download') "
                            "or --weights untrained")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    info = probe(args.video, verify=False)
    start = args.start
    stop = info.frame_count if args.stop is None else args.stop
    if not 0 <= start < stop <= info.frame_count:
        raise SalienceError(f"{args.video}: frames [{start}, {stop}) are not within its {info.frame_count} frames")
    model, center_bias = load_for_prediction(record)
    configure_model_options(model, record["model"], args.scale, args.fixation_history)
    progress = Progress(stop - start, f"{Path(args.video).name} [{start}, {stop})")
    frames = predict_range(
        model, args.video, start, stop,
        center_bias=center_bias, head=args.head,
        batch_size=args.batch_size, device=args.device, dtype=args.precision,
    )
    attrs = {
        "model": record["model"], "weights": record["weights"], "head": args.head,
        "center_bias": record["center_bias"], "weights_sha256": record["weights_sha256"],
        "precision": args.precision, "start": start, "stop": stop, "fps": info.fps,
        "source": str(args.video), "scale": args.scale, "fixation_history": args.fixation_history,
    }
    store.write_frames(args.output, frames, first=start, count=stop - start,
                       height=info.height, width=info.width, attrs=attrs, dtype=args.store_dtype,
                       threads=args.threads, on_frame=progress.update)


# --- assemble --------------------------------------------------------------------

def cmd_assemble(args) -> None:
    from . import store
    from .models import describe

    info = json.loads(Path(args.probe).read_text())
    attrs = dict(info)
    attrs.update(json.loads(args.attrs) if args.attrs else {})
    if args.weights_record:
        record = json.loads(Path(args.weights_record).read_text())
        attrs["weights_sha256"] = record["weights_sha256"]
        attrs["weights_files"] = record["files"]
    window = describe(attrs["model"]).temporal_window if "model" in attrs else 1
    nan_head = window - 1 if attrs.get("head") == "skip" else 0
    store.assemble(args.chunks, args.output, frame_count=info["frame_count"], attrs=attrs,
                   allow_nan_before=nan_head, dtype=args.store_dtype)


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
                   help="dtype of the stored log-densities (float16: 4x smaller, within 0.008)")


def build_parser() -> argparse.ArgumentParser:
    from .models import MODEL_NAMES
    from .predict import HEAD_POLICIES, PRECISIONS

    parser = argparse.ArgumentParser(prog="python -m salience", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)

    p = steps.add_parser("probe", help="verified frame count, fps, size, audio of a video")
    p.add_argument("video")
    p.add_argument("--output", required=True, help="JSON file to write")
    p.add_argument("--expect-frames", type=int, help="fail unless the decoded count equals this")
    p.set_defaults(func=cmd_probe)

    p = steps.add_parser("download", help="fetch and check a model's files; write the weights record")
    p.add_argument("--model", choices=MODEL_NAMES, default="deepgaze_mr")
    p.add_argument("--weights", default="official", help="official, untrained, or a checkpoint path")
    p.add_argument("--center-bias", default="default",
                   help="default (the model's official one; none for untrained), uniform, or a "
                        ".npy/.pt probability map")
    p.add_argument("--output", required=True, help="the weights record (JSON: paths and sha256)")
    p.set_defaults(func=cmd_download)

    p = steps.add_parser("predict", help="predict frames [start, stop) of a video into a zarr store")
    p.add_argument("video")
    p.add_argument("--output", required=True, help="zarr store to write (atomically)")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--stop", type=int, help="default: the end of the video")
    p.add_argument("--weights-record",
                   help="the record written by 'download': model, checkpoint and center bias "
                        "(files checked against their sha256; nothing is downloaded)")
    p.add_argument("--weights", choices=["untrained"],
                   help="untrained: random weights and a uniform center bias, no record (tests)")
    p.add_argument("--model", choices=MODEL_NAMES, default="deepgaze_mr",
                   help="with --weights untrained only; a record names its model")
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
    store_dtype_option(p)
    p.set_defaults(func=cmd_predict)

    p = steps.add_parser("assemble", help="join chunk stores into one store")
    p.add_argument("chunks", nargs="+")
    p.add_argument("--probe", required=True, help="the video's probe JSON")
    p.add_argument("--output", required=True)
    p.add_argument("--weights-record", help="JSON written by the download step")
    p.add_argument("--attrs", help="JSON object of extra attributes (the config that shaped the result)")
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
