"""Command-line steps that compare maps with eye-tracking data (added to ``python -m salience``).

    python -m salience gaze-points --probe probe.json --settings JSON [--video ID] --file F | --participant-file P=F ... --output gaze_points.csv
    python -m salience evaluate STORE --gaze CSV --output metrics.csv [--participants-output CSV]
                                --pixels-per-degree PPD [--profile default|dhf1k]
    python -m salience summarize VIDEO=metrics.csv ... [--participants VIDEO=CSV ...] --output metrics_summary.csv
    python -m salience aoi STORE --aoi CSV --output aoi.csv [--plot aoi.svg] [--gaze CSV]
    python -m salience concentration STORE --output concentration.csv [--plot concentration.svg]
    python -m salience human STORE --probe probe.json --gaze CSV --heatmap human_heatmap.mp4 --pair model_vs_human.mp4
    python -m salience snapshots STORE --probe probe.json --output-dir DIR [--gaze CSV]
    python -m salience overview --store VIDEO=STORE ... [--snapshots VIDEO=DIR ...] [--summary CSV] --output HTML
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SalienceError
from ..settings import add_encoding_options, add_style_options, encoding_from, style_from


def cmd_gaze_points(args) -> None:
    from ..video import load_probe
    from .gaze import GazeSettings, VideoFrames, describe, read_points, write_points_csv

    info = load_probe(args.probe)
    video = VideoFrames(list(info.times), info.duration, info.width, info.height)
    settings = GazeSettings.from_json(args.settings)
    files = [(None, path) for path in args.file] + [_pair(item, "PARTICIPANT=FILE") for item in args.participant_file]
    points = []
    for participant, path in files:
        found = read_points(path, settings, video, video_id=args.video, participant=participant)
        describe(found, path)
        points += found
    rows = write_points_csv(points, video, args.output)
    print(f"{args.output}: {rows} points of {len(points)} participants on the video's timeline")


def cmd_evaluate(args) -> None:
    from .evaluate import evaluate

    evaluate(args.store, args.gaze, args.output, participants_output=args.participants_output,
             pixels_per_degree=args.pixels_per_degree, fwhm_degrees=args.fwhm_degrees,
             profile=args.profile, workers=args.threads)


def _pair(item: str, form: str) -> tuple[str, str]:
    """NAME=PATH split in two, else an error saying the ``form`` expected."""
    name, sep, path = item.partition("=")
    if not sep or not name or not path:
        raise SalienceError(f"{item!r} must be {form}")
    return name, path


def _pairs(items, what: str) -> dict:
    """{video: path} from VIDEO=PATH arguments."""
    return dict(_pair(item, f"VIDEO=PATH (a video id and its {what})") for item in items or ())


def cmd_summarize(args) -> None:
    from .evaluate import summarize

    summarize(_pairs(args.metrics, "metrics.csv"), args.output,
              participants_files=_pairs(args.participants, "metrics_participants.csv") or None,
              profile=args.profile)


def cmd_overview(args) -> None:
    import zarr

    from .overview import write_overview
    from .snapshots import front_picture

    snapshots = _pairs(args.snapshots, "snapshots directory")
    videos = {video: (dict(zarr.open_group(store, mode="r").attrs), front_picture(snapshots.get(video)))
              for video, store in _pairs(args.store, "saliency.zarr").items()}
    write_overview(args.output, videos=videos, summary=args.summary, profile=args.profile)


def cmd_aoi(args) -> None:
    from .aoi import aoi_table
    from .figures import plot_aoi

    aoi_table(args.store, args.aoi, args.output, gaze_path=args.gaze)
    if args.plot:
        plot_aoi(args.output, args.plot, title=args.title or Path(args.store).parent.name)


def cmd_concentration(args) -> None:
    from .concentration import concentration_table
    from .figures import plot_concentration

    concentration_table(args.store, args.output)
    if args.plot:
        plot_concentration(args.output, args.plot, title=args.title or Path(args.store).parent.name)


def cmd_human(args) -> None:
    from .human_video import render_human_videos
    from ..video import load_probe

    render_human_videos(args.store, load_probe(args.probe), args.gaze, human_heatmap=args.heatmap,
                        model_vs_human=args.pair, pixels_per_degree=args.pixels_per_degree,
                        fwhm_degrees=args.fwhm_degrees, style=style_from(args), encoding=encoding_from(args))


def cmd_snapshots(args) -> None:
    from .snapshots import write_snapshots
    from ..video import load_probe

    if args.gaze and not args.pixels_per_degree:
        raise SalienceError("snapshots: --gaze needs --pixels-per-degree")
    write_snapshots(args.store, load_probe(args.probe), args.output_dir, count=args.count, gaze_path=args.gaze,
                    pixels_per_degree=args.pixels_per_degree, fwhm_degrees=args.fwhm_degrees,
                    style=style_from(args))


def add_evaluation_steps(steps) -> None:
    """Add the subcommands above to the parser's subparsers ``steps``."""

    def blur(p, required=True):
        p.add_argument("--pixels-per-degree", type=float, required=required,
                       help="pixels of the video per degree of visual angle, as the viewers saw it")
        p.add_argument("--fwhm-degrees", type=float, default=1.0,
                       help="full width at half maximum of the gaze blur, in degrees (default 1.0)")

    def profile(p):
        p.add_argument("--profile", choices=("default", "dhf1k"), default="default",
                       help="evaluation profile: default (pysaliency's definitions) or dhf1k (the DHF1K "
                            "benchmark's); see docs/evaluation.md")

    p = steps.add_parser("gaze-points", help="eye-tracking files to gaze_points.csv on the video's timeline")
    p.add_argument("--probe", required=True, help="the video's probe.json (its frames' times and size)")
    p.add_argument("--settings", default="{}", help="config gaze: as JSON (GazeSettings' fields)")
    p.add_argument("--video", help="the video's id (for {video} in a sync message)")
    p.add_argument("--file", action="append", default=[], help="a file (participants: its column, else its name)")
    p.add_argument("--participant-file", action="append", default=[], metavar="PARTICIPANT=FILE")
    p.add_argument("--output", required=True, help="gaze_points.csv to write")
    p.set_defaults(func=cmd_gaze_points)

    p = steps.add_parser("evaluate", help="metrics of a store against gaze, per frame and participant")
    p.add_argument("store")
    p.add_argument("--gaze", required=True, help="gaze_points.csv, or a CSV: x,y and time or frame (participant "
                                                 "optional)")
    p.add_argument("--output", required=True, help="metrics.csv to write")
    p.add_argument("--participants-output", help="metrics_participants.csv to write (each viewer's means)")
    blur(p)
    profile(p)
    p.add_argument("--threads", type=int, default=2, help="frames evaluated at once (default 2)")
    p.set_defaults(func=cmd_evaluate)

    p = steps.add_parser("summarize", help="per-video means of metrics.csv files, and their mean")
    p.add_argument("metrics", nargs="+", metavar="VIDEO=METRICS_CSV")
    p.add_argument("--participants", nargs="+", metavar="VIDEO=PARTICIPANTS_CSV",
                   help="the videos' metrics_participants.csv (the humans' fitted center-bias weight)")
    p.add_argument("--output", required=True)
    profile(p)
    p.set_defaults(func=cmd_summarize)

    p = steps.add_parser("overview", help="the report's first page (an HTML fragment)")
    p.add_argument("--store", nargs="+", required=True, metavar="VIDEO=STORE")
    p.add_argument("--snapshots", nargs="*", metavar="VIDEO=DIR", help="each video's snapshots: one is shown")
    p.add_argument("--summary", help="metrics_summary.csv (with gaze)")
    p.add_argument("--output", required=True)
    profile(p)
    p.set_defaults(func=cmd_overview)

    p = steps.add_parser("aoi", help="density mass (and gaze share) per area of interest, per frame")
    p.add_argument("store")
    p.add_argument("--aoi", required=True, help="CSV: name,x0,y0,x1,y1 (start,end,time optional)")
    p.add_argument("--output", required=True, help="aoi.csv to write")
    p.add_argument("--plot", help="SVG of mass over time per AOI")
    p.add_argument("--gaze", help="gaze CSV: adds human_fraction")
    p.add_argument("--title", help="plot title (default: the store's directory name)")
    p.set_defaults(func=cmd_aoi)

    p = steps.add_parser("concentration", help="entropy and top-5%% mass of each frame")
    p.add_argument("store")
    p.add_argument("--output", required=True)
    p.add_argument("--plot", help="SVG over time")
    p.add_argument("--title")
    p.set_defaults(func=cmd_concentration)

    p = steps.add_parser("human", help="human_heatmap.mp4 and model_vs_human.mp4")
    p.add_argument("store")
    p.add_argument("--probe", required=True, help="the source video's probe.json (frames, timing, audio)")
    p.add_argument("--gaze", required=True)
    p.add_argument("--heatmap", required=True)
    p.add_argument("--pair", required=True, help="model (left) vs human (right) overlay video")
    blur(p)
    add_style_options(p, normalization=True)
    add_encoding_options(p, audio=True)
    p.set_defaults(func=cmd_human)

    p = steps.add_parser("snapshots", help="a few overlay frames as PNG (for the report)")
    p.add_argument("store")
    p.add_argument("--probe", required=True, help="the source video's probe.json (frames are sought by timestamp)")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--gaze")
    blur(p, required=False)
    add_style_options(p)
    p.set_defaults(func=cmd_snapshots)
