"""A few overlay frames of a video as PNG pictures (for the report).

Frames evenly spread over the video (first, ..., last), each the model's
overlay, with the human overlay beside it where there is gaze.
"""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np

from ..atomic import StagedDir
from .density import EmpiricalDensity, sigma_pixels
from .gaze import load_gaze, timeline_of_store
from ..rendering.colour import blend, colorize
from ..settings import RenderStyle
from ..store import ARRAY, open_store
from ..video import VideoInfo, read_frames


def snapshot_frames(frame_count: int, count: int) -> list[int]:
    """``count`` frame indices evenly spread from the first to the last frame."""
    return sorted({int(round(i)) for i in np.linspace(0, frame_count - 1, num=min(count, frame_count))})


def write_snapshots(store_path, info: VideoInfo, output_dir, *, count: int = 4, gaze_path=None,
                    pixels_per_degree: float | None = None, fwhm_degrees: float = 1.0,
                    style: RenderStyle = RenderStyle()) -> None:
    """Write ``frame_<index>.png`` for ``count`` frames into ``output_dir`` (published whole)."""
    group = open_store(store_path)
    array = group[ARRAY]
    frame_count, height, width = array.shape
    timeline = timeline_of_store(group, store_path)
    gaze = density = None
    if gaze_path is not None:
        gaze = load_gaze(gaze_path, timeline, width, height)
        density = EmpiricalDensity(height, width, sigma_pixels(pixels_per_degree, fwhm_degrees))
        k_of = {int(f): k for k, f in enumerate(gaze.frames)}
    wanted = snapshot_frames(frame_count, count)
    digits = max(6, len(str(frame_count)))
    with StagedDir(output_dir) as staged:
        for index in wanted:
            frame = next(read_frames(info, index, index + 1))  # seeks by timestamp: no full decode
            picture = blend(frame, colorize(np.asarray(array[index], np.float32), cmap=style.colormap), style.opacity)
            if gaze is not None:
                human = density.image(*gaze.points(k_of[index])) if index in k_of else np.zeros((height, width))
                with np.errstate(divide="ignore"):
                    human_heat = colorize(np.log(human), cmap=style.colormap)
                picture = np.concatenate([picture, blend(frame, human_heat, style.opacity)], axis=1)
            picture = _at_display_aspect(picture, info.sar, halves=2 if gaze is not None else 1)
            path = staged.file(f"frame_{index:0{digits}d}.png")
            if not cv2.imwrite(path, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
                raise OSError(f"could not write {path} (disk full?)")


def _at_display_aspect(picture: np.ndarray, sar: str, halves: int = 1) -> np.ndarray:
    """The picture as a player shows it: non-square pixels (``sar``) stretched to square ones.

    A PNG has no pixel aspect, so a frame of anamorphic video would look
    squeezed; its width is scaled by the sample aspect ratio (as FFmpeg's
    ``scale=iw*sar:ih`` does). ``halves``: pictures side by side.
    """
    ratio = Fraction(sar) if sar and Fraction(sar) > 0 else Fraction(1)
    if ratio == 1:
        return picture
    height, width = picture.shape[:2]
    display = max(1, round(width // halves * ratio)) * halves
    interpolation = cv2.INTER_AREA if display < width else cv2.INTER_CUBIC
    return cv2.resize(picture, (display, height), interpolation=interpolation)
