# Which store each render segment reads, and the inputs of the render rules
# (render.smk). The plan of a video's segments is video_plan (common.smk);
# whether a render is current is salience.rendering.current.

import shlex

from snakemake.io import IOFile

from salience.rendering import current


wildcard_constraints:
    segment=frames.NAME_PATTERN,
    part=r"png|npy",


RENDER = config["render"]
VIDEO_KINDS = ("heatmap", "overlay")  # the segment videos of render_segment


def outlined_aoi(video):
    """The AOI CSV whose outlines the overlay shows (render: aoi_outlines), else None."""
    return str(AOI[video]) if RENDER["aoi_outlines"] and video in AOI else None


def render_settings(video, target):
    """``target``'s settings for one video: recorded by its join, compared by maps_source."""
    aoi = outlined_aoi(video) if target == "videos" else None
    return current.render_settings(RENDER, target, aoi)


def read_before(output):
    """The inputs Snakemake recorded when ``output``'s job last ran (also for a deleted temp output).

    From Snakemake's own metadata, which decides its reruns; () where there is none
    (a job that never ran, or a Snakemake that keeps it otherwise: then a
    current render names its chunks, as before).
    """
    persistence = getattr(workflow, "persistence", None)
    if persistence is None:
        return ()
    # an internal of Snakemake: tests/workflow/test_resume_render.py holds it
    try:
        return tuple(persistence.input(IOFile(output)) or ())
    except Exception:
        return ()


def render_is_current(video, target):
    results = f"results/{video}"
    return lambda: current.is_current(results, target, render_settings(video, target))


def segment_of(wildcards):
    return frames.FrameRange.parse(wildcards.segment)


def segment_stores(wildcards):
    """The store a segment job reads (salience.rendering.current.maps_source)."""
    chunk = video_plan(wildcards).chunk_of(segment_of(wildcards))
    part = wildcards.get("part")
    folder = f"results/{wildcards.video}/segments"
    if part:
        outputs = [f"{folder}/{part}/{wildcards.segment}"]
    else:
        outputs = [f"{folder}/{kind}/{wildcards.segment}.mp4" for kind in VIDEO_KINDS]
    store = current.maps_source(
        f"results/{wildcards.video}/chunks/{chunk.name}.zarr",
        f"results/{wildcards.video}/saliency.zarr",
        render_is_current(wildcards.video, part or "videos"),
        read_before(outputs[0]),
        finished=all(os.path.exists(output) for output in outputs),
    )
    return [store]


def video_stores(wildcards):
    """Every store of the video's maps (for the global peak)."""
    peak = f"results/{wildcards.video}/density_peak.json"
    return current.peak_sources(
        chunk_outputs(wildcards),
        f"results/{wildcards.video}/saliency.zarr",
        render_is_current(wildcards.video, "videos"),
        read_before(peak),
        finished=os.path.exists(peak),
    )


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
            for s in video_plan(wildcards).segments
        ]

    return files
