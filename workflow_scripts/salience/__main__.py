"""Command line: each step of the workflow, runnable by hand.

    python -m salience probe VIDEO --output probe.json
    python -m salience download --model deepgaze_mr --weights official --output weights.json
    python -m salience predict VIDEO --weights-record weights.json --output saliency.zarr [--start S --stop T]
    python -m salience assemble CHUNK... --probe probe.json --output saliency.zarr
    python -m salience doctor [--device cuda]
    python -m salience render-segment STORE... --probe probe.json --start S --stop T --heatmap H --overlay O
    python -m salience join SEGMENT... --probe probe.json --output heatmap.mp4
    python -m salience join-dirs PART... --output heatmap_png
    python -m salience density-peak STORE... --output peak.json
    python -m salience {evaluate,summarize,aoi,concentration,human,snapshots} ...  (eye-tracking data)

The Snakemake rules call these; ``python -m salience STEP --help`` lists the
options. Bad input ends with one line naming the problem (exit code 2).
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import sys
from pathlib import Path

from .errors import SalienceError

log = logging.getLogger("salience")


# --- probe -------------------------------------------------------------------

def _load_probe(path):
    from .video import load_probe

    return load_probe(path)


def cmd_probe(args) -> None:
    from .video import probe

    info = probe(args.video, on_decode_error=args.on_decode_error, video_stream=args.video_stream)
    from .atomic import write_json

    write_json(args.output, info.to_dict())
    log.info("%s: %d frames (%s), %.3f fps%s, %dx%d, SAR %s, rotation %d, audio from %s s",
             args.video, info.frame_count, info.codec, info.fps, " (variable)" if info.vfr else "",
             info.width, info.height, info.sar, info.rotation, info.audio_start)


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

def cmd_predict(args) -> None:
    from .predict import predict_job
    from .settings import Prediction

    options = Prediction(head=args.head, precision=args.precision, batch_size=args.batch_size, device=args.device,
                         threads=args.threads, scale=args.scale, fixation_history=args.fixation_history,
                         store_dtype=args.store_dtype, shard_frames=args.shard_frames)
    predict_job(args.video, args.output, weights_record=args.weights_record,
                untrained=args.model if args.weights == "untrained" else None, probe_path=args.probe,
                start=args.start, stop=args.stop, options=options)


# --- assemble --------------------------------------------------------------------

def cmd_assemble(args) -> None:
    from . import store

    from .video import load_probe

    info = json.loads(Path(args.probe).read_text())
    times = list(load_probe(args.probe).times)  # per frame, on the video's timeline: the time coordinate
    info.pop("timestamps", None)  # per frame, on the source's clock: stays in probe.json
    info.pop("pts", None)  # per frame, in stream ticks: stays in probe.json
    attrs = dict(info)
    attrs["time_origin"] = load_probe(args.probe).origin  # the source-clock time of time 0
    attrs.update(json.loads(args.attrs) if args.attrs else {})
    if args.weights_record:
        record = json.loads(Path(args.weights_record).read_text())
        attrs["weights_sha256"] = record["weights_sha256"]
        attrs["weights_files"] = record["files"]
    if args.chunks_dir:
        for path in store.remove_unplanned_chunks(args.chunks_dir, args.chunks):
            log.info("removed %s (not in the chunk plan, or left by a killed job)", path)
    store.assemble(args.chunks, args.output, frame_count=info["frame_count"], attrs=attrs,
                   dtype=args.store_dtype, timestamps=times)


# --- doctor ---------------------------------------------------------------------

def cmd_doctor(args) -> None:
    from .device import doctor

    lines, ok = doctor(args.device)
    print("\n".join(lines), flush=True)
    if not ok:
        raise SystemExit(2)
def cmd_render_segment(args) -> None:
    from .evaluation.aoi import read_aoi_csv
    from .rendering.videos import render_segment
    from .settings import encoding_from, style_from

    vmax = None
    if args.peak:
        vmax = json.loads(Path(args.peak).read_text())["density_max"]
    render_segment(
        args.stores, _load_probe(args.probe), args.start, args.stop, heatmap_path=args.heatmap,
        overlay_path=args.overlay, png_dir=args.png_dir, npy_dir=args.npy_dir, style=style_from(args),
        vmax=vmax, encoding=encoding_from(args), aois=read_aoi_csv(args.aoi) if args.aoi else None,
    )


def cmd_join(args) -> None:
    from .join import join_videos

    join_videos(args.segments, _load_probe(args.probe), args.output, audio=args.audio)


def cmd_join_dirs(args) -> None:
    from .join import join_dirs

    join_dirs(args.parts, args.output)


def cmd_density_peak(args) -> None:
    from .atomic import write_json
    from .rendering.colour import global_density_max
    from .rendering.videos import FrameMaps

    peaks = [global_density_max(FrameMaps([path]).array(0)) for path in args.stores]
    # null: no store holds a finite map; such frames are drawn as with a per-frame peak
    write_json(args.output, {"density_max": max((p for p in peaks if p is not None), default=None)})


def store_dtype_option(p) -> None:
    from .settings import Prediction
    from .store import STORE_DTYPES

    p.add_argument("--store-dtype", choices=STORE_DTYPES, default=Prediction.store_dtype,
                   help="storage of the log-densities: float32 (exact), float16 (within 0.008), "
                        "quantized (within 2**-11)")


def build_parser() -> argparse.ArgumentParser:
    from .models import MODEL_NAMES
    from .models.description import HEAD_POLICIES, PRECISION_NAMES
    from .settings import Prediction, add_encoding_options, add_style_options

    parser = argparse.ArgumentParser(prog="python -m salience", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)

    p = steps.add_parser("probe", help="decode a video once: frame count, timestamps, size, SAR, rotation, audio")
    p.add_argument("video")
    p.add_argument("--output", required=True, help="JSON file to write")
    p.add_argument("--on-decode-error", choices=["stop", "keep"], default="stop",
                   help="a damaged file: stop, or keep the frames that decode (with a warning)")
    p.add_argument("--video-stream", default="auto",
                   help="auto (the video stream FFmpeg picks) or a stream index as `ffmpeg -i` lists it")
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
    p.add_argument("--head", choices=HEAD_POLICIES, default=Prediction.head)
    p.add_argument("--batch-size", type=int, default=Prediction.batch_size)
    p.add_argument("--precision", choices=PRECISION_NAMES, default=Prediction.precision)
    p.add_argument("--device", default=Prediction.device, help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int,
                   help="CPU threads for torch and for compressing the store (default: torch's choice)")
    p.add_argument("--fixation-history", default=Prediction.fixation_history,
                   help="DeepGaze III: 'center' or a CSV of frame,x,y (gaze per frame)")
    p.add_argument("--scale", type=float, default=Prediction.scale,
                   help="IIE/III: resize frames by this factor for the model (1.0: full resolution)")
    p.add_argument("--probe", help="the video's probe.json (frames are then sought by timestamp)")
    store_dtype_option(p)
    p.add_argument("--shard-frames", type=int, default=Prediction.shard_frames,
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

    p = steps.add_parser("doctor", help="can torch use this machine's GPUs? (diagnosis + a tiny forward pass)")
    p.add_argument("--device", default="auto", help="the device a prediction would ask for (default auto)")
    p.set_defaults(func=cmd_doctor)
    p = steps.add_parser("render-segment", help="frames [start, stop) of the videos and exports, as parts")
    p.add_argument("stores", nargs="+", help="chunk stores holding the frames, or the assembled store")
    p.add_argument("--probe", required=True, help="the video's probe.json")
    p.add_argument("--start", type=int, required=True)
    p.add_argument("--stop", type=int, required=True)
    p.add_argument("--heatmap", help="heatmap segment to write (.mp4)")
    p.add_argument("--overlay", help="overlay segment to write (.mp4)")
    p.add_argument("--png-dir", help="directory of this segment's heatmap PNGs")
    p.add_argument("--npy-dir", help="directory of this segment's log-density .npy files")
    p.add_argument("--peak", help="JSON from density-peak: normalize by the video's peak (default: per frame)")
    p.add_argument("--aoi", help="AOI CSV: their outlines drawn on the overlay (see 'aoi')")
    add_style_options(p)
    add_encoding_options(p, preset=True)
    p.set_defaults(func=cmd_render_segment)

    p = steps.add_parser("join", help="join segment videos without re-encoding, with the source's audio")
    p.add_argument("segments", nargs="+", help="segment files named START-STOP.mp4, in order")
    p.add_argument("--probe", required=True, help="the video's probe.json")
    p.add_argument("--output", required=True)
    p.add_argument("--no-audio", dest="audio", action="store_false")
    p.set_defaults(func=cmd_join)

    p = steps.add_parser("join-dirs", help="one directory from the files of several (hard links)")
    p.add_argument("parts", nargs="+")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_join_dirs)

    p = steps.add_parser("density-peak", help="the largest density over stores (global normalization)")
    p.add_argument("stores", nargs="+")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_density_peak)
    from .evaluation.cli import add_evaluation_steps

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
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # Disk full or over quota: the unfinished output was removed on the way out.
        where = f" writing {error.filename}" if error.filename else ""
        print(f"error: {error.strerror}{where} (step '{args.step}'): free some space (or raise "
              "the quota) and run again; finished outputs are kept", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
