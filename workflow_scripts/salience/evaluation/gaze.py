"""Human gaze on a video's timeline: CSV in, points per frame.

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
from dataclasses import dataclass

import numpy as np

from ..errors import SalienceError
from ..store import ARRAY
from .tables import Table, TableError, read_table

log = logging.getLogger(__name__)



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
    count = group[ARRAY].shape[0]
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
    log_placement(path, table, gaze, timeline, width, height)
    return gaze


def log_placement(path, table: Table, gaze: GazeOnFrames, timeline: Timeline, width: int, height: int) -> None:
    """Log how many rows became points, and the rows dropped (with the video's extent, to check against)."""
    log.info("%s: %d rows, %d points on %d frames", path, len(table), gaze.n_points, len(gaze.frames))
    for reason, count in gaze.dropped.items():
        if count:
            log.warning("%s: %d rows dropped, %s (%d frames, %dx%d, %.3f s)", path, count, reason,
                        len(timeline.times), width, height, timeline.end)
