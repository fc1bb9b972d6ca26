# Planning the render segments and choosing the maps they read (rules in render.smk).

import hashlib
import os
import shlex

from salience import segments


wildcard_constraints:
    segment=r"\d{7}-\d{7}",
    part=r"png|npy",


RENDER = config["render"]
# Everything that shapes the pixels. The joins take it as params (a change
# re-renders) and record it in results/<id>/rendered/<target>.json, from
# which maps_source tells a finished render from one to redo.
RENDER_PARAMS = {
    key: RENDER[key]
    for key in (
        "colormap",
        "normalization",
        "opacity",
        "crf",
        "preset",
        "segment_frames",
        "aoi_outlines",
    )
}


def video_segments(wildcards):
    """The video's render segments: one per chunk, or ``segment_frames`` long, inside chunks."""
    chunks = plan.plan_chunks(
        video_info(wildcards).frame_count,
        config["chunk_frames"],
        MODEL.temporal_window,
    )
    return segments.plan_segments(chunks, RENDER["segment_frames"])


def chunk_of_segment(wildcards):
    segment = segments.Segment.parse(wildcards.segment)
    chunks = plan.plan_chunks(
        video_info(wildcards).frame_count,
        config["chunk_frames"],
        MODEL.temporal_window,
    )
    chunk = next(
        c for c in chunks if c.start <= segment.start and segment.stop <= c.stop
    )
    return f"results/{wildcards.video}/chunks/{chunk.name}.zarr"


# What each output was last rendered with (written by its join), and the
# outputs themselves: see maps_source.
TARGETS = {
    "videos": (
        ["heatmap.mp4", "overlay.mp4"],
        {**RENDER_PARAMS, "audio": RENDER["audio"]},
    ),
    "png": (
        ["heatmap_png"],
        {k: RENDER[k] for k in ("colormap", "normalization", "segment_frames")},
    ),
    "npy": (["log_density_npy"], {"segment_frames": RENDER["segment_frames"]}),
}


def rendered_record(video, target):
    return f"results/{video}/rendered/{target}.json"


def outlined_aoi(video):
    """The AOI CSV whose outlines the overlay shows (render: aoi_outlines), else None."""
    return str(AOI[video]) if RENDER["aoi_outlines"] and video in AOI else None


def render_params(video, target):
    """``target``'s settings for one video: with outlines, the AOI file's content too."""
    params = dict(TARGETS[target][1])
    aoi = outlined_aoi(video) if target == "videos" else None
    if aoi is not None:
        with open(aoi, "rb") as handle:
            params["aoi_sha256"] = hashlib.sha256(handle.read()).hexdigest()
    return params


def render_is_current(video, target):
    """Whether ``target``'s outputs exist and were rendered with today's settings."""
    names, _ = TARGETS[target]
    params = render_params(video, target)
    record = rendered_record(video, target)
    if not all(os.path.exists(f"results/{video}/{n}") for n in names + ["rendered"]):
        return False
    try:
        with open(record) as handle:
            return json.load(handle) == json.loads(json.dumps(params))
    except (OSError, ValueError):
        return False


def maps_source(wildcards, chunk, target):
    """The store a segment job reads: its chunk's store, or saliency.zarr.

    The chunk store (temp) while it exists or nothing else holds the maps:
    the segment then starts as soon as its chunk is predicted. Once the
    chunks are gone (after a finished run), a re-render reads saliency.zarr,
    so it never re-predicts. A finished, current output keeps naming the
    chunk (missing, and not needed): Snakemake reruns a job whose set of
    input files changed, even one whose temp output is gone.
    """
    assembled = f"results/{wildcards.video}/saliency.zarr"
    if os.path.exists(chunk) or not os.path.exists(assembled):
        return chunk
    if render_is_current(wildcards.video, target):
        return chunk
    return assembled


def segment_stores(wildcards):
    target = wildcards.get("part", "videos")
    return [maps_source(wildcards, chunk_of_segment(wildcards), target)]


def video_stores(wildcards):
    """Every store of the video's maps (for the global peak)."""
    chunks = chunk_outputs(wildcards)
    sources = {maps_source(wildcards, chunk, "videos") for chunk in chunks}
    assembled = f"results/{wildcards.video}/saliency.zarr"
    return [assembled] if assembled in sources else chunks


def aoi_outline_input(wildcards):
    aoi = outlined_aoi(wildcards.video)
    return {"aoi": aoi} if aoi is not None else {}


def peak_input(wildcards):
    """The video's peak density, for global normalization (not for .npy exports)."""
    if RENDER["normalization"] == "global" and wildcards.get("part") != "npy":
        return {"peak": f"results/{wildcards.video}/density_peak.json"}
    return {}


def segment_files(kind):
    def files(wildcards):
        pattern = {
            "heatmap": "results/{video}/segments/heatmap/{segment}.mp4",
            "overlay": "results/{video}/segments/overlay/{segment}.mp4",
            "png": "results/{video}/segments/png/{segment}",
            "npy": "results/{video}/segments/npy/{segment}",
        }[kind]
        return [
            pattern.format(video=wildcards.video, segment=s.name)
            for s in video_segments(wildcards)
        ]

    return files


def segment_length(wildcards):
    segment = segments.Segment.parse(wildcards.segment)
    return segment.stop - segment.start
