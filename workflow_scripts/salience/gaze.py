"""Human gaze on a video's timeline: CSV in, points per frame, empirical densities.

A gaze CSV has the columns ``x``, ``y`` (pixels of the source video, origin
top-left) and ``time`` (seconds on the video's own timeline) or ``frame``
(index); ``participant`` and ``duration`` are optional. Rows may be raw
samples or fixations; each row is one point.

A row at time t belongs to the frame shown at t: the last frame whose
timestamp is <= t. Rows before the first frame, at or after the end of the
video, or outside the frame (including NaN coordinates, e.g. lost samples)
are dropped and counted. A point sits at the integer pixel
(floor(x), floor(y)).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError, SalienceError
from .tables import Table, TableError, read_table

log = logging.getLogger(__name__)

FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
TRUNCATE = 4.0  # scipy.ndimage.gaussian_filter's default, written out: the definition uses it


def read_gaze_csv(path) -> Table:
    """The gaze CSV at ``path``, checked (TableError names file, line, column)."""
    table = read_table(path, required=("x", "y"), one_of=("time", "frame"),
                       optional=("duration",), text=("participant",), what="gaze")
    if not table.has("time"):
        frames = table.columns["frame"]
        for row in np.flatnonzero(~np.isfinite(frames) | (frames != np.floor(frames))):
            raise TableError(f"{table.where(row, 'frame')}: {frames[row]:g} is not a frame index "
                             "(a whole number from 0)")
    else:
        times = table.columns["time"]
        for row in np.flatnonzero(np.isnan(times)):
            raise TableError(f"{table.where(row, 'time')}: empty; a time in seconds is needed")
    return table


# --------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class Timeline:
    """When each frame of a video is shown: ``times[i]`` (seconds) until ``times[i+1]`` or ``end``."""

    times: np.ndarray  # (T,) float64, increasing
    end: float

    def frame_at(self, t: np.ndarray) -> np.ndarray:
        """Index of the frame shown at each time, -1 where no frame is shown (before, or at/after the end)."""
        t = np.asarray(t, dtype=np.float64)
        frames = np.searchsorted(self.times, t, side="right") - 1
        frames[(t >= self.end) | np.isnan(t)] = -1
        return frames


def timeline_of_store(group, path="the store") -> Timeline:
    """The frame times of a saliency store (an open zarr group).

    Its ``time`` array (seconds, one per frame) where it has one, else frame
    index / the ``fps`` attribute. The video ends one frame interval after
    its last frame (the store's ``duration`` attribute, where given).
    """
    count = group["log_density"].shape[0]
    attrs = dict(group.attrs)
    if "time" in group:
        times = np.asarray(group["time"][:], dtype=np.float64)
        if times.shape != (count,) or not np.all(np.diff(times) > 0):
            raise SalienceError(f"{path}: its 'time' array must hold {count} increasing times")
        step = times[-1] - times[-2] if count > 1 else 1.0 / float(attrs.get("fps") or 1.0)
    else:
        fps = attrs.get("fps")
        if not fps or fps <= 0:
            raise SalienceError(f"{path}: no 'time' array and no 'fps' attribute: "
                                "cannot place gaze in time. Re-run the assembly of this store.")
        times = np.arange(count, dtype=np.float64) / float(fps)
        step = 1.0 / float(fps)
    end = float(attrs["duration"]) if "duration" in attrs else float(times[-1] + step)
    return Timeline(times, end)


# --------------------------------------------------------------------------- points per frame


@dataclass
class GazeOnFrames:
    """Gaze points grouped by frame: the points of frame ``frames[k]`` are
    ``x[start[k]:start[k+1]]``, ``y[...]`` (integer pixels)."""

    frames: np.ndarray  # (K,) int64, increasing: frames with at least one point
    start: np.ndarray  # (K+1,) int64
    x: np.ndarray  # (N,) int64 columns
    y: np.ndarray  # (N,) int64 rows
    dropped: dict  # reason -> rows dropped

    def points(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.x[self.start[k]:self.start[k + 1]], self.y[self.start[k]:self.start[k + 1]]

    @property
    def n_points(self) -> int:
        return len(self.x)


def assign_to_frames(table: Table, timeline: Timeline, width: int, height: int) -> GazeOnFrames:
    """Place every row of a gaze table on a frame and a pixel; drop (and count) the rest."""
    x = table.columns["x"]
    y = table.columns["y"]
    frame_count = len(timeline.times)
    if table.has("time"):
        frames = timeline.frame_at(table.columns["time"])
    else:
        frames = table.columns["frame"].astype(np.int64)
        frames[frames >= frame_count] = -1
    with np.errstate(invalid="ignore"):
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)  # NaN compares False
    in_video = frames >= 0
    dropped = {"outside the video": int(np.count_nonzero(~in_video)),
               "outside the frame": int(np.count_nonzero(in_video & ~inside))}
    keep = in_video & inside
    order = np.argsort(frames[keep], kind="stable")
    kept_frames = frames[keep][order]
    px = np.floor(x[keep][order]).astype(np.int64)
    py = np.floor(y[keep][order]).astype(np.int64)
    unique, first = np.unique(kept_frames, return_index=True)
    start = np.append(first, len(kept_frames)).astype(np.int64)
    return GazeOnFrames(unique.astype(np.int64), start, px, py, dropped)


def load_gaze(path, timeline: Timeline, width: int, height: int) -> GazeOnFrames:
    """Read a gaze CSV and place it on a video's frames, logging what was dropped."""
    table = read_gaze_csv(path)
    gaze = assign_to_frames(table, timeline, width, height)
    log.info("%s: %d rows, %d points on %d frames", path, len(table), gaze.n_points, len(gaze.frames))
    for reason, count in gaze.dropped.items():
        if count:
            log.warning("%s: %d rows dropped, %s (%d frames, %dx%d, %.3f s)", path, count, reason,
                        len(timeline.times), width, height, timeline.end)
    return gaze


# --------------------------------------------------------------------------- empirical density


def sigma_pixels(pixels_per_degree: float, fwhm_degrees: float = 1.0) -> float:
    """The Gaussian's sigma in pixels for a blur of ``fwhm_degrees`` full width at half maximum."""
    if not pixels_per_degree > 0 or not fwhm_degrees > 0:
        raise ConfigError(f"pixels_per_degree ({pixels_per_degree}) and gaze_fwhm_degrees "
                          f"({fwhm_degrees}) must be positive")
    return fwhm_degrees * pixels_per_degree * FWHM_TO_SIGMA


def gaussian_weights(sigma: float) -> np.ndarray:
    """The 1-D kernel of ``scipy.ndimage.gaussian_filter`` (radius ``int(4 sigma + 0.5)``, sums to 1)."""
    radius = int(TRUNCATE * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * offsets**2)
    return weights / weights.sum()


class EmpiricalDensity:
    """The empirical density of a frame's points, built from Gaussian patches.

    Equal (within float rounding) to the definition: unit impulses at the
    points' pixels, ``scipy.ndimage.gaussian_filter(..., sigma, mode="constant",
    truncate=4.0)``, divided by the sum. The filter is linear and separable,
    so the blurred impulses are outer products of the 1-D kernel, cut at the
    frame's edges: a few thousand pixels per point instead of a full-frame
    filter. ``support`` returns only the pixels where the density is not zero
    (every metric that uses it only needs those).
    """

    def __init__(self, height: int, width: int, sigma: float):
        self.height, self.width = height, width
        self.weights = gaussian_weights(sigma)
        self.radius = len(self.weights) // 2
        self._canvas = np.zeros((height, width), np.float64)  # reused; zero between calls
        self._mask = np.zeros((height, width), bool)

    def _paint(self, x: np.ndarray, y: np.ndarray) -> list[tuple[slice, slice]]:
        w, r = self.weights, self.radius
        boxes = []
        for px, py in zip(x.tolist(), y.tolist()):
            x0, x1 = max(px - r, 0), min(px + r + 1, self.width)
            y0, y1 = max(py - r, 0), min(py + r + 1, self.height)
            rows = w[y0 - py + r:y1 - py + r]
            cols = w[x0 - px + r:x1 - px + r]
            self._canvas[y0:y1, x0:x1] += np.multiply.outer(rows, cols)
            boxes.append((slice(y0, y1), slice(x0, x1)))
        return boxes

    def support(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(flat pixel indices, normalized density there) of the points' density."""
        for rows, cols in self._paint(x, y):
            self._mask[rows, cols] = True
        index = np.flatnonzero(self._mask)
        self._mask.reshape(-1)[index] = False
        flat_canvas = self._canvas.reshape(-1)
        values = flat_canvas[index]
        flat_canvas[index] = 0.0
        return index, values / values.sum()

    def image(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The normalized density as a full H x W float64 array (zeros where no point reaches)."""
        out = np.zeros((self.height, self.width), np.float64)
        if len(x):
            index, values = self.support(x, y)
            out.reshape(-1)[index] = values
        return out
