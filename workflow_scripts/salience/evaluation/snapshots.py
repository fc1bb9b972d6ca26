"""A few overlay frames of a video as labelled PNG pictures (for the report).

Frames evenly spread over the video (first, ..., last). Each picture: the
model's overlay (titled with the model and its weights), with gaze the
humans' overlay beside it (titled with the viewers and points of that
frame), the frame's index and time above, and a colour bar: the heatmaps'
colour is the density relative to the frame's peak.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..atomic import StagedDir
from ..rendering.colour import blend, colorize
from ..settings import RenderStyle
from ..store import ARRAY, open_store
from ..video import VideoInfo, read_frames
from .density import EmpiricalDensity, sigma_pixels
from .figures import _pyplot
from .gaze import timeline_of_store
from .yardsticks import load_by_participant


def snapshot_frames(frame_count: int, count: int) -> list[int]:
    """``count`` frame indices evenly spread from the first to the last frame."""
    return sorted({int(round(i)) for i in np.linspace(0, frame_count - 1, num=min(count, frame_count))})


def front_picture(directory) -> Path | None:
    """The snapshot the report's first page shows: the middle one (the first and last frames are often titles)."""
    pictures = sorted(Path(directory).glob("frame_*.png")) if directory else []
    return pictures[len(pictures) // 2] if pictures else None


def model_label(attrs: dict) -> str:
    weights = attrs.get("weights", "?")
    kind = {"official": "official weights", "untrained": "UNTRAINED weights"}.get(weights, f"weights {Path(str(weights)).name}")
    return f"model: {attrs.get('model', '?')} ({kind})"


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
        gaze = load_by_participant(gaze_path, timeline, width, height)
        density = EmpiricalDensity(height, width, sigma_pixels(pixels_per_degree, fwhm_degrees))
        k_of = {int(f): k for k, f in enumerate(gaze.gaze.frames)}
    label = model_label(dict(group.attrs))
    wanted = snapshot_frames(frame_count, count)
    digits = max(6, len(str(frame_count)))
    plt = _pyplot()
    with StagedDir(output_dir) as staged:
        for index in wanted:
            frame = next(read_frames(info, index, index + 1))  # seeks by timestamp: no full decode
            model_heat = colorize(np.asarray(array[index], np.float32), cmap=style.colormap)
            panels = [(blend(frame, model_heat, style.opacity), label)]
            if gaze is not None:
                k = k_of.get(index)
                points = gaze.gaze.points(k) if k is not None else (np.zeros(0, int), np.zeros(0, int))
                viewers = len(np.unique(gaze.codes(k))) if k is not None else 0
                human = density.image(*points)
                with np.errstate(divide="ignore"):
                    human_heat = colorize(np.log(human), cmap=style.colormap)
                panels.append((blend(frame, human_heat, style.opacity),
                               f"humans: {viewers} viewer{'s' * (viewers != 1)}, {len(points[0])} gaze points"))
            panels = [(_at_display_aspect(picture, info.sar), caption) for picture, caption in panels]
            figure = _figure(plt, panels, style.colormap, f"{Path(info.path).name}: frame {index} of {frame_count}, "
                                                f"t = {timeline.times[index]:.2f} s")
            figure.savefig(staged.file(f"frame_{index:0{digits}d}.png"), dpi=80)
            plt.close(figure)


def _figure(plt, panels, cmap: str, title: str):
    """The panels side by side, each titled, one colour bar for all, ``title`` above."""
    import matplotlib

    height, width = panels[0][0].shape[:2]
    figure, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels) + 1.2, 5.6 * height / width + 0.9),
                                squeeze=False, layout="constrained")
    for ax, (picture, caption) in zip(axes[0], panels):
        ax.imshow(picture)
        ax.set_title(caption, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(title, fontsize=12)
    scale = matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), cmap=cmap)
    bar = figure.colorbar(scale, ax=axes[0].tolist(), shrink=0.85, pad=0.02)
    bar.set_label("density / the frame's peak")
    return figure


def _at_display_aspect(picture: np.ndarray, sar: str) -> np.ndarray:
    """The picture as a player shows it: non-square pixels (``sar``) stretched to square ones.

    A PNG has no pixel aspect, so a frame of anamorphic video would look
    squeezed; its width is scaled by the sample aspect ratio (as FFmpeg's
    ``scale=iw*sar:ih`` does).
    """
    ratio = Fraction(sar) if sar and Fraction(sar) > 0 else Fraction(1)
    if ratio == 1:
        return picture
    height, width = picture.shape[:2]
    display = max(1, round(width * ratio))
    interpolation = cv2.INTER_AREA if display < width else cv2.INTER_CUBIC
    return cv2.resize(picture, (display, height), interpolation=interpolation)
