"""Whether a video's rendered outputs are current, and which store a segment job reads.

Each join records the settings its outputs were rendered with in
``results/<id>/rendered/<target>.json`` (``record_text``); a render is current
when its outputs exist and that record equals today's settings
(``is_current``). A segment job reads its chunk's store while that exists,
else the assembled ``saliency.zarr`` (``maps_source``), so re-rendering a
finished run never re-predicts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable

#: What each render target writes under ``results/<id>/``.
OUTPUTS = {"videos": ("heatmap.mp4", "overlay.mp4"), "png": ("heatmap_png",), "npy": ("log_density_npy",)}
#: The config keys (``render:``) that shape each target's pixels: changing one re-renders it.
SHAPING_KEYS = {
    "videos": ("colormap", "normalization", "opacity", "crf", "preset", "segment_frames", "aoi_outlines", "audio"),
    "png": ("colormap", "normalization", "segment_frames"),
    "npy": ("segment_frames",),
}


def render_settings(render: dict, target: str, aoi_file=None) -> dict:
    """``target``'s settings from config ``render:``; with AOI outlines, the AOI file's sha256 too."""
    settings = {key: render[key] for key in SHAPING_KEYS[target]}
    if target == "videos" and aoi_file is not None:
        with open(aoi_file, "rb") as handle:
            settings["aoi_sha256"] = hashlib.sha256(handle.read()).hexdigest()
    return settings


def record_text(settings: dict) -> str:
    """The record a join writes beside its outputs (one JSON line)."""
    return json.dumps(settings, sort_keys=True)


def record_path(results, target: str) -> str:
    return os.path.join(os.fspath(results), "rendered", f"{target}.json")


def is_current(results, target: str, settings: dict) -> bool:
    """Whether ``target``'s outputs exist in ``results`` and were rendered with ``settings``."""
    names = (*OUTPUTS[target], "rendered")
    if not all(os.path.exists(os.path.join(os.fspath(results), name)) for name in names):
        return False
    try:
        with open(record_path(results, target)) as handle:
            return json.load(handle) == json.loads(record_text(settings))
    except (OSError, ValueError):
        return False


def maps_source(chunk, assembled, current: Callable[[], bool], read_before=(), finished: bool = False) -> str:
    """The store a segment job reads: its chunk's store, or saliency.zarr.

    The chunk store (temp) while it exists or nothing else holds the maps:
    the segment then starts as soon as its chunk is predicted. Once the
    chunk is gone, what a job read before matters (``read_before``: the
    inputs Snakemake recorded when it last ran, kept after it deletes a temp
    output), because Snakemake reruns a job whose set of inputs changed,
    even one whose temp output is gone, and a rerun that names the gone
    chunk predicts it again:

    - a segment rendered and not yet joined (``finished``: its outputs
      exist; a run stopped) keeps naming what it read, so it is not rendered
      again when its chunk was assembled and removed meanwhile;
    - a segment of a render joined with today's settings (``current()``)
      keeps naming what it read (the chunk, or saliency.zarr after a
      re-render; the chunk where nothing was recorded);
    - any other runs anyway (new settings, a join to redo): from
      saliency.zarr, so a re-render never re-predicts.
    """
    chunk, assembled = os.fspath(chunk), os.fspath(assembled)
    if os.path.exists(chunk) or not os.path.exists(assembled):
        return chunk
    read_before = {os.fspath(path) for path in read_before}
    read = next((store for store in (chunk, assembled) if store in read_before), None)
    if finished and read:
        return read
    if current():
        return read or chunk
    return assembled


def peak_sources(chunks, assembled, current: Callable[[], bool], read_before=(), finished: bool = False) -> list[str]:
    """The stores the video's peak is computed from: every chunk's, or saliency.zarr (as ``maps_source``).

    ``finished``: the peak exists; it keeps naming the stores it was computed from.
    """
    chunks, assembled = [os.fspath(c) for c in chunks], os.fspath(assembled)
    if any(os.path.exists(c) for c in chunks) or not os.path.exists(assembled):
        return chunks
    if not finished:
        return [assembled]
    read_before = {os.fspath(path) for path in read_before}
    if assembled in read_before:
        return [assembled]
    if read_before and read_before <= set(chunks):
        return chunks
    return chunks if current() else [assembled]
