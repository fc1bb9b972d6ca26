# Which store each render segment reads, and the inputs of the render rules
# (render.smk). The plan of a video's segments is video_plan (common.smk);
# whether a render is current is salience.rendering.current.

import shlex

from salience.rendering import current


wildcard_constraints:
    segment=frames.NAME_PATTERN,
    part=r"png|npy",


RENDER = config["render"]


def outlined_aoi(video):
    """The AOI CSV whose outlines the overlay shows (render: aoi_outlines), else None."""
    return str(AOI[video]) if RENDER["aoi_outlines"] and video in AOI else None


def render_settings(video, target):
    """``target``'s settings for one video: recorded by its join, compared by maps_source."""
    aoi = outlined_aoi(video) if target == "videos" else None
    return current.render_settings(RENDER, target, aoi)


def maps_source(wildcards, chunk, target):
    """The store a segment job reads (salience.rendering.current.maps_source)."""
    results = f"results/{wildcards.video}"
    return current.maps_source(
        chunk,
        f"{results}/saliency.zarr",
        lambda: current.is_current(
            results, target, render_settings(wildcards.video, target)
        ),
    )


def segment_of(wildcards):
    return frames.FrameRange.parse(wildcards.segment)


def segment_stores(wildcards):
    chunk = video_plan(wildcards).chunk_of(segment_of(wildcards))
    store = f"results/{wildcards.video}/chunks/{chunk.name}.zarr"
    return [maps_source(wildcards, store, wildcards.get("part", "videos"))]


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
            for s in video_plan(wildcards).segments
        ]

    return files
