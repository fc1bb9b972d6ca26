"""Heatmap and overlay videos from a store of per-frame log-densities (one pass, or one segment).

The store is a zarr v3 group with an array ``log_density`` of shape (T, H, W),
float32 or float16 (read as float32 here), one chunk per frame, each frame a
log-density (its logsumexp is 0).
Everything here streams: one frame of the store and one frame of the source
video are in memory at a time, never the whole video.

Videos are encoded by ``encode.H264Writer`` at the source's timestamps, with
its audio, SAR and rotation. Every output is written under a temporary name
and renamed into place only when complete, so a killed or failed job never
leaves a file that looks finished (a job killed with SIGKILL can leave hidden
``.<name>.<random>.partial<suffix>`` files behind).
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import ExitStack
from dataclasses import dataclass

import cv2
import numpy as np

from ..atomic import StagedDir
from ..background import BackgroundIterator
from ..encode import H264Writer
from ..errors import ConfigError, SalienceError, VideoError
from ..frames import FrameRange
from ..settings import Encoding, RenderStyle
from ..store import ARRAY, open_store
from ..video import VideoInfo, probe, read_frames
from .aoi_outlines import draw_aois
from .colour import apply_lut, blend, check_normalization, colormap_lut, global_density_max, normalized_density
from .export import export_frame

@dataclass(frozen=True)
class Outputs:
    """The files of one render; any may be None (not written)."""

    heatmap: str | os.PathLike | None = None
    overlay: str | os.PathLike | None = None
    png_dir: str | os.PathLike | None = None
    npy_dir: str | os.PathLike | None = None


def render_videos(zarr_path, source_video, *, heatmap_path, overlay_path, png_dir=None, npy_dir=None,
                  style: RenderStyle = RenderStyle(), encoding: Encoding = Encoding(), aois=None) -> None:
    """Write the heatmap video and the overlay video of one saliency store, in one pass.

    ``source_video``: the source's ``VideoInfo`` (probe.json), or its path
    (probed here: one full decode). Both videos show frame i at the source's
    timestamp i (variable rates stay variable), carry the source's SAR,
    rotation and, when it has one and ``encoding.audio`` is true, its first audio
    stream in sync (see ``encode.H264Writer``; odd sizes are padded to even).
    ``style.normalization`` "frame" scales each frame by its own max; "global"
    by the max over the whole store (one extra streaming pass over the store,
    not the video). A store whose frames are not the source's size is resized
    to it (linear interpolation of the normalized density, before colouring).

    Optional exports, each directory published whole by a rename when every
    frame is in it: ``png_dir`` gets the heatmap frames as
    ``frame_000123.png``, ``npy_dir`` the float32 log-density frames as
    ``frame_000123.npy`` (indices zero-padded to the digits of the frame
    count, at least 6).

    Frame count mismatches between store and video raise VideoError and leave
    no output. ``encoding`` (``settings.Encoding``) goes to each of the two
    encoders; the encodes dominate the run time.
    ``aois`` (``aoi.read_aoi_csv``): their outlines are drawn on the overlay
    where and when they exist (at each frame's timestamp). The workflow renders the same frames in segments instead
    (``render_segment``, joined by ``join.join_videos``).
    """
    check_normalization(style.normalization)
    info = source_video if isinstance(source_video, VideoInfo) else probe(source_video)
    maps = FrameMaps([zarr_path])
    if maps.frame_count != info.frame_count:
        raise VideoError(_count_mismatch(zarr_path, maps.frame_count, info.path, info.frame_count))
    vmax = global_density_max(maps.array(0)) if style.normalization == "global" else None
    _render_range(maps, info, info, FrameRange(0, info.frame_count),
                  Outputs(heatmap_path, overlay_path, png_dir, npy_dir), style, encoding, vmax, aois)


def render_segment(store_paths, info: VideoInfo, start: int, stop: int, *, heatmap_path=None,
                   overlay_path=None, png_dir=None, npy_dir=None, style: RenderStyle = RenderStyle(),
                   vmax: float | None = None, encoding: Encoding = Encoding(), aois=None) -> None:
    """Frames ``[start, stop)`` of the heatmap and overlay videos, as segment files (no audio).

    ``store_paths``: stores holding at least these frames: chunk stores (their
    ``first_frame`` attribute places them) or the assembled store. Each
    video is an H.264 stream starting with a keyframe, its timeline starting
    at frame ``start`` (``join.join_videos`` puts it in place and adds
    the audio). ``vmax``: None for per-frame normalization, else the
    video's peak density (``global_density_max``); ``style.normalization`` is
    not used here. Exports go to ``png_dir``/``npy_dir`` named by the frame's
    index in the whole video (``render_videos``'s names). Any output may be
    None (not written). ``aois``: outlines on the overlay, as in ``render_videos``.
    """
    segment = FrameRange(start, stop)
    _render_range(FrameMaps(store_paths), info, segment_info(info, segment), segment,
                  Outputs(heatmap_path, overlay_path, png_dir, npy_dir), style,
                  dataclasses.replace(encoding, audio=False), vmax, aois)


def segment_info(info: VideoInfo, segment: FrameRange) -> VideoInfo:
    """The probe of the segment's frames alone, without audio: what its writer encodes."""
    if not 0 <= segment.start < segment.stop <= info.frame_count:
        raise ValueError(f"segment {segment.name} is outside the {info.frame_count} frames of {info.path}")
    return dataclasses.replace(
        info, frame_count=segment.stop - segment.start, has_audio=False, audio_start=None,
        timestamps=info.timestamps[segment.start:segment.stop], pts=info.pts[segment.start:segment.stop],
    )

class FrameMaps:
    """Log-density frames by their index in the video, from one or more stores.

    A chunk store holds frames from its ``first_frame`` attribute on; a store
    without it (the assembled one) from frame 0.
    """

    def __init__(self, store_paths):
        self._parts = []
        for path in store_paths:
            group = open_store(path)  # a clear error for a path that holds no (T, H, W) store
            array = group[ARRAY]
            first = int(group.attrs.get("first_frame", 0))
            self._parts.append((first, first + array.shape[0], array, os.fspath(path)))
        self._parts.sort(key=lambda part: part[0])
        if not self._parts:
            raise SalienceError("no saliency store given")

    @property
    def frame_count(self) -> int:
        """Frames from 0 up to the end of the last store (the whole video for the assembled store)."""
        return self._parts[-1][1]

    def array(self, position: int):
        return self._parts[position][2]

    def __getitem__(self, index: int) -> np.ndarray:
        for first, stop, array, _ in self._parts:
            if first <= index < stop:
                return np.asarray(array[index - first], dtype=np.float32)
        held = ", ".join(f"[{first}, {stop}) in {path}" for first, stop, _, path in self._parts)
        raise SalienceError(f"no store holds frame {index} (they hold {held}); predict it first")


def _render_range(maps: FrameMaps, source: VideoInfo, encoded: VideoInfo, frames: FrameRange, files: Outputs,
                  style: RenderStyle, encoding: Encoding, vmax: float | None, aois=None) -> None:
    """Colour ``frames`` of ``source`` and encode them at ``encoded``'s timestamps.

    Frames are read and coloured on a worker thread while this thread
    encodes (the codecs release the GIL), a few frames ahead at most.
    """
    if not 0.0 <= style.opacity <= 1.0:
        raise ConfigError(f"opacity must be in [0, 1], got {style.opacity}")
    lut = colormap_lut(style.colormap)
    start, stop = frames.start, frames.stop
    for index in (start, stop - 1):
        maps[index]  # a store that lacks the range fails here, before any encoding
    digits = max(6, len(str(source.frame_count)))
    size = (source.width, source.height)
    colour = any(path is not None for path in (files.heatmap, files.overlay, files.png_dir))

    def coloured():
        video_frames = read_frames(source, start, stop) if files.overlay is not None else None
        for index in range(start, stop):
            log_frame = maps[index]
            if not colour:
                yield index, log_frame, None, None
                continue
            scaled = normalized_density(log_frame, vmax)
            if scaled.shape != (source.height, source.width):
                scaled = cv2.resize(scaled, size, interpolation=cv2.INTER_LINEAR)
            heat = apply_lut(scaled, lut)
            overlay = blend(next(video_frames), heat, style.opacity) if video_frames is not None else None
            if aois and overlay is not None:
                draw_aois(overlay, aois, source.timestamps[index] - source.origin)  # the video's timeline
            yield index, log_frame, heat, overlay

    with ExitStack() as outputs:  # on an exception every output is discarded
        writers = []
        heat_writer = overlay_writer = None
        if files.heatmap is not None:
            heat_writer = outputs.enter_context(H264Writer(files.heatmap, encoded, encoding))
            writers.append(heat_writer)
        if files.overlay is not None:
            overlay_writer = outputs.enter_context(H264Writer(files.overlay, encoded, encoding))
            writers.append(overlay_writer)
        pngs = outputs.enter_context(StagedDir(files.png_dir)) if files.png_dir is not None else None
        npys = outputs.enter_context(StagedDir(files.npy_dir)) if files.npy_dir is not None else None

        coloured_frames = outputs.enter_context(BackgroundIterator(coloured(), 4, "salience-colour"))
        for index, log_frame, heat, overlay in coloured_frames:
            if heat_writer is not None:
                heat_writer.write(heat)
            if overlay_writer is not None:
                overlay_writer.write(overlay)
            export_frame(index, digits, heat, log_frame, pngs, npys)
        # Finish every encode before publishing anything, so that a failing
        # encoder leaves none of the outputs rather than some of them.
        for writer in writers:
            writer.finish()


def _count_mismatch(zarr_path, store_frames, source_video, video_frames) -> str:
    return (
        f"{os.fspath(zarr_path)} holds {store_frames} frames but {source_video} has {video_frames}: "
        "the store was not made from this video (or is incomplete). Re-run the prediction for it."
    )

