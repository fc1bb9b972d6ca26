"""Areas of interest (AOIs) over a video's timeline: how much of the map, and of the gaze, falls in each.

An AOI CSV has the columns ``name,x0,y0,x1,y1`` (a rectangle in pixels of
the source video, origin top-left, x1 > x0, y1 > y0) and optionally:

- ``start``, ``end`` (seconds): the AOI exists for start <= t < end (an
  empty cell: from the beginning / to the end);
- ``time`` (seconds): a keyframe of a moving AOI. A name with several
  timed rows moves: its rectangle is interpolated linearly between
  keyframes and it exists from its first to its last keyframe (within
  start/end where given), like the dynamic AOIs of eye-tracking software.

A pixel belongs to a rectangle when its center (col + 0.5, row + 0.5) lies
inside [x0, x1) x [y0, y1); a gaze point belongs to it when its pixel
(floor(x), floor(y)) does. Per frame and AOI: ``mass`` (the model's density
inside), ``area_fraction`` (share of the frame's pixels), ``ratio`` = mass /
area_fraction (1.0: as much as a uniform map would give), and with gaze
``human_fraction`` (share of the frame's points inside; empty on frames
without gaze).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from .tables import TableError, read_table

log = logging.getLogger(__name__)

COLUMNS = ("frame", "time", "aoi", "mass", "area_fraction", "ratio")
HUMAN_COLUMN = "human_fraction"


@dataclass(frozen=True)
class AOI:
    """One named area: a fixed rectangle, or keyframed rectangles (``times`` not empty)."""

    name: str
    boxes: np.ndarray  # (K, 4) x0, y0, x1, y1
    times: np.ndarray  # (K,) keyframe times; empty for a fixed AOI (K = 1)
    start: float = -math.inf
    end: float = math.inf

    def box_at(self, t: float):
        """(x0, y0, x1, y1) at time t, or None where the AOI does not exist."""
        if not self.start <= t < self.end:
            return None
        if len(self.times) == 0:
            return tuple(self.boxes[0])
        if t < self.times[0] or t > self.times[-1]:
            return None
        return tuple(np.interp(t, self.times, self.boxes[:, i]) for i in range(4))

    def pixels_at(self, t: float, width: int, height: int):
        """``pixel_box`` of the rectangle at time t in a frame of that size, or None where the AOI does not exist."""
        box = self.box_at(t)
        return None if box is None else pixel_box(box, width, height)


def read_aoi_csv(path) -> list[AOI]:
    """The AOIs of a CSV, checked (TableError names file, line and column), in order of first appearance."""
    table = read_table(path, required=("x0", "y0", "x1", "y1"), optional=("start", "end", "time"),
                       text=("name",), what="AOI")
    if not table.has("name"):
        raise TableError(f"{table.path}, line 1: the AOI CSV has no column 'name'")
    col = table.columns
    rows_of: dict[str, list[int]] = {}
    for row, name in enumerate(col["name"]):
        if not name:
            raise TableError(f"{table.where(row, 'name')}: empty; every AOI needs a name")
        for low, high in (("x0", "x1"), ("y0", "y1")):
            if not col[high][row] > col[low][row]:
                raise TableError(f"{table.where(row, high)}: {high} = {col[high][row]:g} must be greater "
                                 f"than {low} = {col[low][row]:g}")
        rows_of.setdefault(name, []).append(row)
    nan = np.full(len(table), math.nan)
    times, starts, ends = col.get("time", nan), col.get("start", nan), col.get("end", nan)
    aois = []
    for name, rows in rows_of.items():
        timed = ~np.isnan(times[rows])
        if len(rows) > 1 and not timed.all():
            row = rows[int(np.flatnonzero(~timed)[0])]
            raise TableError(f"{table.where(row, 'time')}: AOI {name!r} has {len(rows)} rows; a moving AOI "
                             "needs a time on every row, a fixed one has a single row")
        for column, values in (("start", starts), ("end", ends)):
            given = values[rows]
            if not (np.all(np.isnan(given)) or np.all(given == given[0])):
                raise TableError(f"{table.where(rows[1], column)}: the rows of AOI {name!r} give different "
                                 f"{column} times; give one (or leave it empty)")
        order = np.argsort(times[rows], kind="stable") if timed.all() else np.arange(len(rows))
        rows = [rows[i] for i in order]
        keyframes = times[rows] if timed.all() else np.empty(0)
        duplicate = np.flatnonzero(np.diff(keyframes) == 0)
        if len(duplicate):
            raise TableError(f"{table.where(rows[duplicate[0] + 1], 'time')}: AOI {name!r} has two "
                             f"keyframes at {keyframes[duplicate[0]]:g} s")
        start = starts[rows[0]] if not math.isnan(starts[rows[0]]) else -math.inf
        end = ends[rows[0]] if not math.isnan(ends[rows[0]]) else math.inf
        if not start < end:
            raise TableError(f"{table.where(rows[0], 'end')}: AOI {name!r} ends ({end:g} s) at or before its start "
                             f"({start:g} s); end must be after start (times on the video's timeline, seconds)")
        boxes = np.stack([col[c][rows] for c in ("x0", "y0", "x1", "y1")], axis=1)
        aois.append(AOI(name, boxes, keyframes, float(start), float(end)))
    return aois


def check_inside(path, aois: list[AOI], width: int, height: int) -> None:
    """Refuse AOIs that lie wholly or partly outside a ``width`` x ``height`` frame (TableError naming the row).

    A rectangle meant for another size of video (the 1080p example on a
    640x360 clip) would otherwise give empty or clipped areas without a word.
    """
    table = read_table(path, required=("x0", "y0", "x1", "y1"), text=("name",), what="AOI")
    for row in range(len(table)):
        for column, limit in (("x0", width), ("x1", width), ("y0", height), ("y1", height)):
            value = table.columns[column][row]
            if not 0 <= value <= limit:
                raise TableError(
                    f"{table.where(row, column)}: {column} = {value:g} lies outside the {width}x{height} frame "
                    f"of the video (AOI {table.columns['name'][row]!r}); AOIs are in pixels of the video, "
                    f"0-{width} across and 0-{height} down")


def pixel_box(box, width: int, height: int) -> tuple[int, int, int, int]:
    """Row and column ranges ``(r0, r1, c0, c1)`` of the pixels whose centers lie in ``box``, clipped."""
    x0, y0, x1, y1 = box
    c0, c1 = (min(max(math.ceil(v - 0.5), 0), width) for v in (x0, x1))
    r0, r1 = (min(max(math.ceil(v - 0.5), 0), height) for v in (y0, y1))
    return r0, max(r1, r0), c0, max(c1, c0)


def frame_rows(density: np.ndarray, aois: list[AOI], t: float, points=None):
    """One row per AOI present at time t: (name, mass, area_fraction, ratio, human_fraction or None).

    ``density``: the frame's normalized density (H x W); ``points``: the
    frame's gaze pixels (x, y) or None.
    """
    height, width = density.shape
    rows = []
    for aoi in aois:
        pixels = aoi.pixels_at(t, width, height)
        if pixels is None:
            continue
        r0, r1, c0, c1 = pixels
        area = (r1 - r0) * (c1 - c0) / (width * height)
        mass = float(density[r0:r1, c0:c1].sum()) if area else 0.0
        human = None
        if points is not None and len(points[0]):
            x, y = points
            human = float(np.count_nonzero((x >= c0) & (x < c1) & (y >= r0) & (y < r1))) / len(x)
        rows.append((aoi.name, mass, area, mass / area if area else math.nan, human))
    return rows


def aoi_table(store_path, aoi_path, output, *, gaze_path=None) -> None:
    """Write aoi.csv for a store: every frame, every AOI present (streams the store frame by frame)."""
    from ..store import ARRAY, open_store, read_frames_ahead
    from ..atomic import StagedCSV
    from .gaze import load_gaze, timeline_of_store

    aois = read_aoi_csv(aoi_path)
    group = open_store(store_path)
    array = group[ARRAY]
    frame_count, height, width = array.shape
    timeline = timeline_of_store(group, store_path)
    gaze = load_gaze(gaze_path, timeline, width, height) if gaze_path else None
    k_of = {int(f): k for k, f in enumerate(gaze.frames)} if gaze is not None else {}
    header = COLUMNS + ((HUMAN_COLUMN,) if gaze is not None else ())
    with StagedCSV(output, header) as table:
        for frame, log_density in enumerate(read_frames_ahead(array, range(frame_count))):
            t = float(timeline.times[frame])
            if np.isnan(log_density).all():
                continue  # head: skip
            density = np.exp(log_density, dtype=np.float64)
            density /= density.sum()
            points = gaze.points(k_of[frame]) if frame in k_of else (np.empty(0, int), np.empty(0, int))
            for name, mass, area, ratio, human in frame_rows(density, aois, t, points):
                row = [frame, t, name, mass, area, ratio]
                if gaze is not None:
                    row.append("" if human is None else human)
                table.row(row)
    log.info("%s: %d AOIs over %d frames", output, len(aois), frame_count)
