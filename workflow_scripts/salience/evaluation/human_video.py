"""Videos of human gaze: the empirical density as a heatmap, and model beside human.

- ``human_heatmap.mp4``: each frame's empirical density (``density.EmpiricalDensity``),
  coloured like heatmap.mp4 (same colormap and normalization; a frame
  without gaze is the colormap's lowest colour).
- ``model_vs_human.mp4``: the source with the model's overlay on the left and
  the human overlay on the right (twice the source's width).

Same frame count, timing and audio as the source, in one streaming pass
(one source frame, one store frame and one density at a time). Uses the
public helpers of ``rendering.colour`` (colours, blending, the H.264 writer).
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import ExitStack

import numpy as np

from ..errors import VideoError
from .density import EmpiricalDensity, sigma_pixels
from .gaze import load_gaze, timeline_of_store
from ..encode import H264Writer
from ..rendering.colour import blend, colorize, global_density_max
from ..settings import Encoding, RenderStyle
from ..store import ARRAY, open_store, read_frames_ahead
from ..video import VideoInfo, read_frames


def _log(density: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(density)  # -inf where no gaze reaches: the lowest colour


def render_human_videos(store_path, info: VideoInfo, gaze_path, *, human_heatmap, model_vs_human,
                        pixels_per_degree: float, fwhm_degrees: float = 1.0,
                        style: RenderStyle = RenderStyle(), encoding: Encoding = Encoding()) -> None:
    """Write both videos for one store, its source video's probe and its gaze CSV.

    Both videos follow the source's timing (``encode.H264Writer``): every
    frame at its source timestamp, the audio in sync.
    """
    group = open_store(store_path)
    array = group[ARRAY]
    frame_count, height, width = array.shape
    gaze = load_gaze(gaze_path, timeline_of_store(group, store_path), width, height)
    density = EmpiricalDensity(height, width, sigma_pixels(pixels_per_degree, fwhm_degrees))
    if (info.width, info.height) != (width, height):
        raise VideoError(f"{os.fspath(store_path)} holds {width}x{height} maps but {info.path} is "
                         f"{info.width}x{info.height}: the store was not made from this video")
    model_vmax = global_density_max(array) if style.normalization == "global" else None
    human_vmax = None
    if style.normalization == "global":
        human_vmax = max((float(density.support(*gaze.points(k))[1].max()) for k in range(len(gaze.frames))),
                         default=1.0)
    k_of = {int(f): k for k, f in enumerate(gaze.frames)}
    with ExitStack() as outputs:
        human_writer = outputs.enter_context(
            H264Writer(human_heatmap, info, encoding))
        pair_writer = outputs.enter_context(
            H264Writer(model_vs_human, dataclasses.replace(info, width=2 * width), encoding))
        frames = 0
        maps = read_frames_ahead(array, range(frame_count))
        for index, (frame, log_density) in enumerate(zip(read_frames(info, 0, None), maps)):
            human = density.image(*gaze.points(k_of[index])) if index in k_of else np.zeros((height, width))
            human_heat = colorize(_log(human), cmap=style.colormap, vmax=human_vmax)
            model_heat = colorize(log_density, cmap=style.colormap, vmax=model_vmax)
            human_writer.write(human_heat)
            pair_writer.write(np.concatenate([blend(frame, model_heat, style.opacity), blend(frame, human_heat, style.opacity)],
                                             axis=1))
            frames += 1
        if frames != frame_count:
            raise VideoError(f"{os.fspath(store_path)} holds {frame_count} frames but {info.path} has "
                             f"{frames}: the store was not made from this video. Re-run the prediction.")
        human_writer.finish()
        pair_writer.finish()
