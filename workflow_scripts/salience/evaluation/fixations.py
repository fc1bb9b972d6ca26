"""Fixations from raw gaze samples (I-VT, I-DT), and the viewing geometry they need.

Thresholds are angles, so positions are first turned into degrees of
visual angle (:class:`Geometry`):

* from the physical setup, ``screen`` (pixels), ``screen_cm`` (its width
  and height in cm) and ``distance_cm`` (eye to screen): a pixel at
  horizontal offset ``dx`` cm from the screen's centre is at
  ``atan(dx / distance)`` degrees (the same vertically);
* or from ``pixels_per_degree`` alone: ``pixels / pixels_per_degree``
  (the small-angle rule, exact at the centre).

I-VT (velocity threshold; Salvucci & Goldberg 2000, with the defaults of
Tobii's I-VT fixation filter, Olsen 2012): each sample's speed is the
angle between the samples half a ``window_ms`` before and after it, over
their time apart. Runs of samples slower than ``velocity_threshold``
(degrees/s) are fixations; two fixations less than ``merge_gap_ms`` apart
in time and ``merge_angle`` degrees apart in place are merged; fixations
shorter than ``min_duration_ms`` are dropped.

I-DT (dispersion threshold; Salvucci & Goldberg 2000): a window of
``min_duration_ms`` (default 100 ms) is a fixation when its dispersion, (max x - min x) +
(max y - min y) in degrees, is at most ``dispersion_threshold``; it then
grows while the dispersion stays within the threshold. Otherwise the window
moves on by one sample. The window's length is counted in samples at the
median sampling interval.

Lost samples (NaN) are never part of a fixation: they end one. A
fixation's time span is from its first to its last sample (as EyeLink's
EFIX and Tobii's fixation rows give it), its place the mean of its samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

METHODS = ("ivt", "idt")
# Tobii's I-VT filter discards fixations under 60 ms; Salvucci & Goldberg's I-DT window is 100-200 ms.
DEFAULT_MIN_DURATION_MS = {"ivt": 60.0, "idt": 100.0}


@dataclass(frozen=True)
class FixationFilter:
    """How fixations are found in samples; the defaults are the documented ones."""

    method: str = "ivt"
    velocity_threshold: float = 30.0  # degrees per second (I-VT)
    window_ms: float = 20.0  # the span over which I-VT measures speed
    dispersion_threshold: float = 1.0  # degrees (I-DT)
    min_duration_ms: float | None = None  # shorter ones are dropped (I-DT: its window); None: 60 I-VT, 100 I-DT
    merge_gap_ms: float = 75.0  # I-VT: merge fixations closer in time than this ...
    merge_angle: float = 0.5  # ... and closer in place than this (degrees); 0 turns merging off

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"config 'gaze: fixation_filter: method': {self.method!r} is not one of "
                              f"{', '.join(METHODS)}")
        if self.min_duration_ms is None:
            object.__setattr__(self, "min_duration_ms", DEFAULT_MIN_DURATION_MS[self.method])
        for name in ("velocity_threshold", "window_ms", "dispersion_threshold", "min_duration_ms"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ConfigError(f"config 'gaze: fixation_filter: {name}': {value!r} must be a positive number")
        for name in ("merge_gap_ms", "merge_angle"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ConfigError(f"config 'gaze: fixation_filter: {name}': {value!r} must be a number >= 0")


@dataclass(frozen=True)
class Geometry:
    """Pixels to degrees of visual angle, for the pixels the samples are in."""

    pixels_per_degree: float | None = None
    screen: tuple | None = None  # (width, height) pixels
    screen_cm: tuple | None = None  # (width, height) cm
    distance_cm: float | None = None

    def degrees(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if self.distance_cm is None:
            return x / self.pixels_per_degree, y / self.pixels_per_degree
        (w, h), (w_cm, h_cm) = self.screen, self.screen_cm
        dx = (x - w / 2) * (w_cm / w)
        dy = (y - h / 2) * (h_cm / h)
        return np.degrees(np.arctan2(dx, self.distance_cm)), np.degrees(np.arctan2(dy, self.distance_cm))

    @property
    def center_pixels_per_degree(self) -> float:
        """Pixels per degree at the screen's centre (horizontally)."""
        if self.distance_cm is None:
            return float(self.pixels_per_degree)
        cm_per_pixel = self.screen_cm[0] / self.screen[0]
        return 2 * self.distance_cm * math.tan(math.radians(0.5)) / cm_per_pixel


def geometry(*, pixels_per_degree=None, screen=None, screen_cm=None, distance_cm=None,
             where: str = "config 'gaze'") -> Geometry:
    """The viewing geometry from physical values (screen, screen_cm, distance_cm) or pixels_per_degree."""
    physical = (screen_cm is not None, distance_cm is not None)
    if any(physical):
        if not all(physical) or screen is None:
            raise ConfigError(f"{where}: the viewing geometry needs screen (pixels), screen_cm (its width and "
                              "height in cm) and distance_cm together (or pixels_per_degree alone)")
        values = [*screen, *screen_cm, distance_cm]
        if not all(isinstance(v, (int, float)) and v > 0 and math.isfinite(v) for v in values):
            raise ConfigError(f"{where}: screen {list(screen)}, screen_cm {list(screen_cm)} and distance_cm "
                              f"{distance_cm} must be positive numbers")
        return Geometry(None, tuple(float(v) for v in screen), tuple(float(v) for v in screen_cm),
                        float(distance_cm))
    if pixels_per_degree is None:
        raise ConfigError(f"{where}: finding fixations needs the viewing geometry: screen_cm and distance_cm "
                          "(with the screen's size in pixels), or pixels_per_degree")
    if not (isinstance(pixels_per_degree, (int, float)) and pixels_per_degree > 0):
        raise ConfigError(f"{where}: pixels_per_degree {pixels_per_degree!r} must be a positive number")
    return Geometry(float(pixels_per_degree))


def detect(time_s, x, y, geom: Geometry, settings: FixationFilter = FixationFilter()) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) sample index of each fixation, in time order. ``time_s`` in seconds, increasing."""
    time_s = np.asarray(time_s, dtype=np.float64)
    if len(time_s) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ax, ay = geom.degrees(x, y)
    if settings.method == "ivt":
        first, last = _ivt(time_s, ax, ay, settings)
    else:
        first, last = _idt(time_s, ax, ay, settings)
    return first.astype(np.int64), last.astype(np.int64)


def sample_interval(time_s) -> float:
    steps = np.diff(np.asarray(time_s, dtype=np.float64))
    steps = steps[steps > 0]
    if not len(steps):
        raise ConfigError("the samples have no two distinct times: cannot find fixations")
    return float(np.median(steps))


def _runs(mask) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) index of each run of True in ``mask``."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1


def speeds(time_s, ax, ay, window_ms: float) -> np.ndarray:
    """Each sample's angular speed (degrees/s) across ``window_ms`` centred on it (NaN near lost samples)."""
    n = len(time_s)
    half = max(1, int(round(window_ms / 1000 / 2 / sample_interval(time_s))))
    index = np.arange(n)
    before = np.clip(index - half, 0, n - 1)
    after = np.clip(index + half, 0, n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        speed = np.hypot(ax[after] - ax[before], ay[after] - ay[before]) / (time_s[after] - time_s[before])
    # a lost sample anywhere in the window makes the speed unknown
    lost = np.isnan(ax) | np.isnan(ay)
    if lost.any():
        counts = np.concatenate(([0], np.cumsum(lost)))
        speed[counts[after + 1] - counts[before] > 0] = np.nan
    return speed


def _ivt(time_s, ax, ay, settings: FixationFilter):
    speed = speeds(time_s, ax, ay, settings.window_ms)
    with np.errstate(invalid="ignore"):
        slow = (speed < settings.velocity_threshold) & ~np.isnan(ax) & ~np.isnan(ay)
    first, last = _runs(slow)
    if settings.merge_angle > 0 and settings.merge_gap_ms > 0 and len(first) > 1:
        first, last = _merge(time_s, ax, ay, first, last, settings)
    keep = (time_s[last] - time_s[first]) * 1000 >= settings.min_duration_ms
    return first[keep], last[keep]


def _merge(time_s, ax, ay, first, last, settings: FixationFilter):
    out_first, out_last = [int(first[0])], [int(last[0])]
    for f, l in zip(first[1:].tolist(), last[1:].tolist()):
        pf, pl = out_first[-1], out_last[-1]
        gap_ms = (time_s[f] - time_s[pl]) * 1000
        between = slice(pl + 1, f)
        lost_between = np.isnan(ax[between]).any() or np.isnan(ay[between]).any()
        if gap_ms < settings.merge_gap_ms and not lost_between:
            angle = math.hypot(np.mean(ax[f:l + 1]) - np.mean(ax[pf:pl + 1]),
                               np.mean(ay[f:l + 1]) - np.mean(ay[pf:pl + 1]))
            if angle < settings.merge_angle:
                out_last[-1] = l
                continue
        out_first.append(f)
        out_last.append(l)
    return np.asarray(out_first), np.asarray(out_last)


def _idt(time_s, ax, ay, settings: FixationFilter):
    n = len(time_s)
    width = max(2, int(round(settings.min_duration_ms / 1000 / sample_interval(time_s))) + 1)
    first, last = [], []
    if n < width:
        return np.asarray(first), np.asarray(last)
    windows_x = np.lib.stride_tricks.sliding_window_view(ax, width)
    windows_y = np.lib.stride_tricks.sliding_window_view(ay, width)
    # NaN propagates through max/min: a window with a lost sample is never a fixation
    dispersion = (windows_x.max(axis=1) - windows_x.min(axis=1)) + (windows_y.max(axis=1) - windows_y.min(axis=1))
    threshold = settings.dispersion_threshold
    i = 0
    xs, ys = ax.tolist(), ay.tolist()
    while i <= n - width:
        if not dispersion[i] <= threshold:
            i += 1
            continue
        end = i + width  # exclusive
        lo_x, hi_x = float(np.min(ax[i:end])), float(np.max(ax[i:end]))
        lo_y, hi_y = float(np.min(ay[i:end])), float(np.max(ay[i:end]))
        while end < n:
            px, py = xs[end], ys[end]
            if px != px or py != py:  # lost
                break
            nx0, nx1 = min(lo_x, px), max(hi_x, px)
            ny0, ny1 = min(lo_y, py), max(hi_y, py)
            if (nx1 - nx0) + (ny1 - ny0) > threshold:
                break
            lo_x, hi_x, lo_y, hi_y = nx0, nx1, ny0, ny1
            end += 1
        first.append(i)
        last.append(end - 1)
        i = end
    return np.asarray(first, dtype=np.int64), np.asarray(last, dtype=np.int64)


def labels(count: int, first, last) -> np.ndarray:
    """A boolean per sample: inside one of the fixations (first..last, inclusive)."""
    marks = np.zeros(count + 1, dtype=np.int64)
    np.add.at(marks, np.asarray(first, dtype=np.int64), 1)
    np.add.at(marks, np.asarray(last, dtype=np.int64) + 1, -1)
    return np.cumsum(marks[:-1]) > 0


def means(x, y, first, last) -> tuple[np.ndarray, np.ndarray]:
    """Each fixation's mean position (over its samples, all of which are tracked)."""
    # lost samples (never inside a fixation) count as 0 so that they do not spoil the sums after them
    cx = np.concatenate(([0.0], np.cumsum(np.nan_to_num(np.asarray(x, dtype=np.float64)))))
    cy = np.concatenate(([0.0], np.cumsum(np.nan_to_num(np.asarray(y, dtype=np.float64)))))
    first = np.asarray(first, dtype=np.int64)
    last = np.asarray(last, dtype=np.int64)
    count = last - first + 1
    return (cx[last + 1] - cx[first]) / count, (cy[last + 1] - cy[first]) / count


def cohen_kappa(a, b) -> float:
    """Cohen's kappa of two boolean labellings of the same samples."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    observed = np.mean(a == b)
    pa, pb = a.mean(), b.mean()
    expected = pa * pb + (1 - pa) * (1 - pb)
    return float((observed - expected) / (1 - expected)) if expected < 1 else 1.0
