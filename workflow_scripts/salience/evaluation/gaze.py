"""Gaze on the video's timeline: eye-tracking files to points on frames, per participant.

The video's timeline starts (time 0) when its first frame is shown,
whatever the container's clock says (``VideoInfo.times``). A file's times
are moved onto it by the sync (``gaze: sync``: the recording time of the
first frame, in seconds, or the message that marks it): ``t_video = t_file
- sync``, subtracted in the file's own unit, then compared with the frame
times at nanosecond resolution (so a sample at exactly a frame's time
belongs to that frame, whatever the unit). A time t is on the frame shown
at t: the last frame whose time is <= t; none before the first frame or
from the end of the last.

Points:

* ``samples``: every tracked sample is a point in the frame shown at its
  time;
* ``fixations``: the tracker's own fixation events where the file has them
  (``fixations: auto``), else fixations detected in the samples (see
  ``fixations.py``). A fixation from ``s`` to ``e`` (its first and last
  sample) is a point, at its mean position, in every frame shown at some
  moment of ``[s, e]``: frames ``frame_at(s)`` to ``frame_at(e)``, cut to
  the video.

Positions are moved from screen pixels to video pixels (``coordinates:
screen``; see ``screen.py``). Lost samples, points before the first frame
or after the video's end, and points outside the frame are dropped and
counted per reason. The workflow's gaze_points step writes every point to
``gaze_points.csv``; every later step reads that (``load_gaze``), and a
point sits at the integer pixel (floor(x), floor(y)).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, SalienceError
from ..store import ARRAY
from .fixations import FixationFilter, Geometry, detect, geometry, means
from .screen import placement
from .trackers import (SECONDS_PER, Recording, TrackerFileError, by_participant, read_recording,
                       sync_time)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class Timeline:
    """When each frame of a video is shown: ``times[i]`` (seconds) until ``times[i+1]`` or ``end``.

    Times are compared in whole nanoseconds: a time that is a frame's time
    up to floating-point rounding is that frame's.
    """

    times: np.ndarray  # (T,) float64, increasing
    end: float

    @property
    def times_ns(self) -> np.ndarray:
        return np.round(np.asarray(self.times, dtype=np.float64) * 1e9).astype(np.int64)

    @property
    def end_ns(self) -> int:
        return int(round(self.end * 1e9))

    def frame_at_ns(self, t_ns) -> np.ndarray:
        """The frame shown at each time (integer ns), -1 before the first frame or at/after the end."""
        t_ns = np.asarray(t_ns, dtype=np.int64)
        frames = np.searchsorted(self.times_ns, t_ns, side="right") - 1
        frames[t_ns >= self.end_ns] = -1
        return frames

    def frame_at(self, t) -> np.ndarray:
        """Index of the frame shown at each time (seconds), -1 where no frame is shown (or t is NaN)."""
        t = np.asarray(t, dtype=np.float64)
        lost = np.isnan(t)
        frames = self.frame_at_ns(np.round(np.where(lost, -1.0, t) * 1e9).astype(np.int64))
        frames[lost] = -1
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


NS_PER = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000}
POINTS = ("fixations", "samples")
COORDINATES = ("video", "screen")
FIXATION_SOURCES = ("auto", "tracker", "detect")
# More than this share of a file's gaze off the video (in time or in place) stops the run (max_outside).
MAX_OUTSIDE = 0.25


@dataclass(frozen=True)
class GazeSettings:
    """Config ``gaze:`` (the defaults here are the schema's)."""

    files: object = None  # pattern with {video} (and {participant}), or {video: path}
    format: str = "auto"
    columns: dict = field(default_factory=dict)
    time_unit: str = "s"
    coordinates: str = "video"
    screen: tuple | None = None
    video_rect: object = "auto"
    sync: object = 0
    points: str = "fixations"
    fixations: str = "auto"  # auto | tracker | detect
    fixation_filter: FixationFilter = FixationFilter()
    screen_cm: tuple | None = None
    distance_cm: float | None = None
    pixels_per_degree: float | None = None  # of the video (config's top-level key)
    separator: str | None = None
    decimal: str | None = None
    missing: tuple = ()
    eye: str = "auto"
    max_outside: float = MAX_OUTSIDE

    def to_json(self) -> str:
        """The settings as JSON (for the jobs' command lines)."""
        import json

        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "GazeSettings":
        import json

        values = json.loads(text)
        values["fixation_filter"] = FixationFilter(**values.get("fixation_filter", {}))
        for key in ("screen", "screen_cm", "missing"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        if isinstance(values.get("video_rect"), list):
            values["video_rect"] = tuple(values["video_rect"])
        return cls(**values)

    def __post_init__(self):
        for name, allowed in (("points", POINTS), ("coordinates", COORDINATES), ("fixations", FIXATION_SOURCES)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"config 'gaze: {name}': {getattr(self, name)!r} is not one of "
                                  f"{', '.join(allowed)}")


@dataclass
class Points:
    """One participant's gaze on the video: point i is at (x[i], y[i]) (video pixels) on frame[i]."""

    participant: str
    frame: np.ndarray  # (N,) int64
    x: np.ndarray  # (N,) float64
    y: np.ndarray
    line: np.ndarray  # (N,) int64: the file line each point came from
    dropped: dict  # reason -> count (samples, or fixations)
    kind: str  # "samples" | "tracker fixations" | "detected fixations"

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class VideoFrames:
    """What the points need of the video: its frame times (s, on its timeline), end and size."""

    times: np.ndarray
    end: float
    width: int
    height: int

    @property
    def timeline(self) -> Timeline:
        return Timeline(np.asarray(self.times, dtype=np.float64), float(self.end))

    @property
    def times_ns(self) -> np.ndarray:
        return self.timeline.times_ns

    @property
    def end_ns(self) -> int:
        return self.timeline.end_ns

    def frame_at_ns(self, t_ns) -> np.ndarray:
        return self.timeline.frame_at_ns(t_ns)


def relative_ns(recording: Recording, times, origin: float) -> np.ndarray:
    """File times minus the sync time (file unit; exact for integer clocks), in integer nanoseconds."""
    return np.round((np.asarray(times, dtype=np.float64) - origin) * NS_PER[recording.unit]).astype(np.int64)


def open_recording(path, settings: GazeSettings) -> Recording:
    """An eye-tracking file read as ``settings`` say (format, columns, units, separators, codes, eye)."""
    return read_recording(path, settings.format, columns=settings.columns, time_unit=settings.time_unit,
                          separator=settings.separator, decimal=settings.decimal, missing=settings.missing,
                          eye=settings.eye)


def read_points(path, settings: GazeSettings, video: VideoFrames, *, video_id: str | None = None,
                participant: str | None = None) -> list:
    """The points of every participant of one file (``participant``: the one the file name gives)."""
    return points_of_recording(open_recording(path, settings), settings, video, video_id=video_id,
                               participant=participant)


def points_of_recording(recording: Recording, settings: GazeSettings, video: VideoFrames, *,
                        video_id: str | None = None, participant: str | None = None) -> list:
    name = participant or Path(recording.path).stem
    parts = by_participant(recording, name)
    if participant is not None and recording.participant is not None and set(parts) != {participant}:
        others = sorted(set(parts) - {participant})
        raise TrackerFileError(f"{recording.path}: its participant column names {', '.join(others[:3])}, but the "
                               f"file name says {participant!r} (gaze: files); one participant per file")
    place = _placement(recording, settings, video)
    out = []
    for who, part in parts.items():
        out.append(_points(part, who, settings, video, place, video_id))
    return out


def _placement(recording: Recording, settings: GazeSettings, video: VideoFrames):
    if settings.coordinates == "video":
        return None
    screen = settings.screen
    if screen is not None and recording.screen is not None and tuple(map(float, screen)) != \
            tuple(map(float, recording.screen)):
        raise ConfigError(f"{recording.path}: the file says the screen was {recording.screen[0]:g}x"
                          f"{recording.screen[1]:g} pixels, config gaze: screen says {screen[0]}x{screen[1]}; "
                          "correct or remove gaze: screen")
    screen = screen or recording.screen
    return placement(settings.video_rect, screen, (video.width, video.height), recording.media_rect,
                     where=f"{recording.path} (config 'gaze')")


def detection_geometry(settings: GazeSettings, screen, place) -> Geometry:
    """Degrees per pixel of the samples' own coordinates (screen pixels, or video pixels)."""
    where = "config 'gaze'"
    if settings.screen_cm is not None or settings.distance_cm is not None:
        if settings.coordinates == "screen":
            return geometry(screen=screen, screen_cm=settings.screen_cm, distance_cm=settings.distance_cm,
                            where=where)
        physical = geometry(screen=screen or settings.screen, screen_cm=settings.screen_cm,
                            distance_cm=settings.distance_cm, where=where)
        return Geometry(pixels_per_degree=physical.center_pixels_per_degree)
    if settings.pixels_per_degree is None:
        raise ConfigError(f"{where}: points: fixations detected from samples need the viewing geometry: "
                          "screen_cm and distance_cm (with the screen in pixels), or pixels_per_degree")
    scale = place.scale if place is not None else 1.0  # screen pixels per video pixel
    return geometry(pixels_per_degree=settings.pixels_per_degree * scale, where=where)


def _points(part: Recording, who: str, settings: GazeSettings, video: VideoFrames, place, video_id) -> Points:
    if part.frame is not None:  # a frame column: already on the video's frames
        if settings.sync != 0:
            raise ConfigError(f"{part.path}: frames instead of times cannot be synced; remove gaze: sync "
                              "or give times")
        if settings.points == "fixations" and part.fixations is None:
            log.info("%s: a frame column: each row is a point (no fixation detection)", part.path)
        frames = part.frame.astype(np.int64)
        frames[frames >= len(video.times)] = -1
        x, y = _to_video(part.x, part.y, place)
        return _keep(who, frames, x, y, part.line, video, "samples", lost=np.isnan(part.x) | np.isnan(part.y))
    origin = sync_time(part, settings.sync, video_id)
    if settings.points == "samples":
        frames = video.frame_at_ns(relative_ns(part, part.time, origin))
        x, y = _to_video(part.x, part.y, place)
        return _keep(who, frames, x, y, part.line, video, "samples", lost=np.isnan(part.x) | np.isnan(part.y))
    fixations = part.fixations
    use_tracker = settings.fixations != "detect" and fixations is not None
    if settings.fixations == "tracker" and fixations is None:
        raise TrackerFileError(f"{part.path}: fixations: tracker, but the file has no fixation events; "
                               "set fixations: auto (detect them from the samples)")
    if use_tracker:
        start, end, fx, fy, lines, kind = (fixations.start, fixations.end, fixations.x, fixations.y,
                                           fixations.line, "tracker fixations")
    else:
        screen = (settings.screen or part.screen) if place is not None else None
        geom = detection_geometry(settings, screen, place)
        seconds = part.seconds(part.time, origin)
        first, last = detect(seconds, part.x, part.y, geom, settings.fixation_filter)
        fx, fy = means(part.x, part.y, first, last)
        start, end, lines, kind = part.time[first], part.time[last], part.line[first], "detected fixations"
    lost = np.isnan(fx) | np.isnan(fy)
    start_ns, end_ns = relative_ns(part, start, origin), relative_ns(part, end, origin)
    times_ns = video.times_ns
    first_frame = np.maximum(np.searchsorted(times_ns, start_ns, side="right") - 1, 0)
    last_frame = np.minimum(np.searchsorted(times_ns, end_ns, side="right") - 1, len(times_ns) - 1)
    on_video = (end_ns >= times_ns[0]) & (start_ns < video.end_ns) & (last_frame >= first_frame)
    counts = np.where(on_video & ~lost, last_frame - first_frame + 1, 0)
    index = np.repeat(np.arange(len(start)), counts)
    offsets = np.arange(len(index)) - np.repeat(np.cumsum(counts) - counts, counts)
    frames = first_frame[index] + offsets
    x, y = _to_video(fx[index], fy[index], place)
    points = _keep(who, frames, x, y, np.asarray(lines)[index], video, kind, lost=np.zeros(len(index), bool))
    points.dropped = {"lost": int(np.count_nonzero(lost)),
                      "outside the video": int(np.count_nonzero(~on_video & ~lost)),
                      "outside the frame (point-frames)": points.dropped["outside the frame"]}
    return points


def _to_video(x, y, place):
    if place is None:
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return place.to_video(x, y)


def _keep(who, frames, x, y, lines, video: VideoFrames, kind, *, lost) -> Points:
    with np.errstate(invalid="ignore"):
        inside = (x >= 0) & (x < video.width) & (y >= 0) & (y < video.height)
    in_time = frames >= 0
    dropped = {"lost": int(np.count_nonzero(lost)),
               "outside the video": int(np.count_nonzero(~lost & ~in_time)),
               "outside the frame": int(np.count_nonzero(~lost & in_time & ~inside))}
    keep = in_time & inside & ~lost
    return Points(who, frames[keep].astype(np.int64), x[keep], y[keep], np.asarray(lines)[keep].astype(np.int64),
                  dropped, kind)


# --------------------------------------------------------------------------- silent-wrong input


def check_recording(recording: Recording, settings: GazeSettings, video: VideoFrames, *,
                    video_id: str | None = None, participant: str | None = None) -> None:
    """Stop (TrackerFileError) when a file's gaze misses the video, saying what it looks like.

    Per participant: the gaze on the video's timeline must reach across at
    least ``MIN_REACH`` of the video (from its first to its last sample or
    row inside the video; recordings may run before and after it), its rows
    be less than a second apart (median; a tracker samples faster, and
    fixations follow each other faster); at most
    ``max_outside`` of the tracked samples on the video's frames may fall
    outside the picture; coordinates may not all lie within 0-1.
    """
    name = participant or Path(recording.path).stem
    if settings.coordinates == "video" and recording.coordinates == "screen" and recording.screen is not None \
            and tuple(map(int, recording.screen)) != (video.width, video.height):
        said = {"eyelink": "its DISPLAY_COORDS", "tobii": "its Recording resolution columns"}.get(recording.format,
                                                                                                "the file")
        raise TrackerFileError(
            f"{recording.path}: gaze is in screen pixels outside the video: {said} give a "
            f"{recording.screen[0]:g}x{recording.screen[1]:g} screen, the video is {video.width}x{video.height}: "
            "set coordinates: screen (with video_rect: centered, fit or [x, y, width, height])")
    place = _placement(recording, settings, video)
    for who, part in by_participant(recording, name).items():
        label = part.path + (f" (participant {who})" if recording.participant is not None else "")
        tracked = ~(np.isnan(part.x) | np.isnan(part.y))
        if tracked.sum() >= 3 and video.width > 2 and video.height > 2:
            with np.errstate(invalid="ignore"):
                unit_box = (part.x[tracked] >= 0) & (part.x[tracked] <= 1) & (part.y[tracked] >= 0) & \
                           (part.y[tracked] <= 1)
            if unit_box.all():
                raise TrackerFileError(
                    f"{part.where(int(np.flatnonzero(tracked)[0]), 'x')}: coordinates are all within 0-1: "
                    f"normalised? Give pixels (x times the {settings.coordinates}'s width, y times its height)")
        if part.frame is not None:
            frames = part.frame.astype(np.int64)
            frames[frames >= len(video.times)] = -1
        else:
            origin = sync_time(part, settings.sync, video_id)
            t_ns = relative_ns(part, part.time, origin)
            if reach(t_ns, video) < MIN_REACH or _too_slow(t_ns):
                raise TrackerFileError(_time_diagnosis(part, label, settings, video, t_ns))
            frames = video.frame_at_ns(t_ns)
        x, y = _to_video(part.x, part.y, place)
        on = tracked & (frames >= 0)
        if on.sum() == 0:
            continue
        with np.errstate(invalid="ignore"):
            outside = on & ~((x >= 0) & (x < video.width) & (y >= 0) & (y < video.height))
        if outside.sum() > settings.max_outside * on.sum():
            raise TrackerFileError(_place_diagnosis(part, label, settings, video, place, x, y, on, outside))


# The gaze must reach across at least this share of the video (first to last sample within it).
MIN_REACH = 0.5


def reach(t_ns, video: VideoFrames) -> float:
    """The share of the video's duration between the first and the last time inside it."""
    inside = t_ns[(t_ns >= video.times_ns[0]) & (t_ns < video.end_ns)]
    if not len(inside):
        return 0.0
    return (int(inside.max()) - int(inside.min())) / max(video.end_ns - int(video.times_ns[0]), 1)


# No eye tracker samples less often than this; rows further apart are in a smaller unit than the file says.
SLOWEST_STEP_NS = 1_000_000_000


def _too_slow(t_ns) -> bool:
    """Rows a second or more apart (the median step): times in ms or µs read as seconds."""
    steps = np.diff(np.sort(t_ns))
    steps = steps[steps > 0]
    return bool(len(steps)) and float(np.median(steps)) >= SLOWEST_STEP_NS


def _time_diagnosis(part: Recording, label, settings: GazeSettings, video: VideoFrames, t_ns) -> str:
    seconds = t_ns / 1e9
    first, last = float(seconds.min()), float(seconds.max())
    duration = float(video.end)
    what = "samples" if part.format != "csv" else "rows"
    span = (f"{len(seconds)} {what} from {first:.6g} s to {last:.6g} s on the video's timeline reach across "
            f"{100 * reach(t_ns, video):.0f}% of the video (0 to {duration:.6g} s)")
    for unit in ("ms", "us") if part.format == "csv" else ():
        if SECONDS_PER[unit] < SECONDS_PER[part.unit]:
            scale = round(SECONDS_PER[part.unit] / SECONDS_PER[unit])
            scaled = np.round(t_ns / scale).astype(np.int64)
            if reach(scaled, video) >= MIN_REACH and not _too_slow(scaled):
                return (f"{label}, column '{part.columns.get('time', 'time')}': times look like "
                        f"{'milliseconds' if unit == 'ms' else 'microseconds'}: set time_unit: {unit} ({span})")
    numeric_sync = isinstance(settings.sync, (int, float)) and not isinstance(settings.sync, bool)
    if first > duration and numeric_sync:
        return (f"{label}: the times start at {first:.6g} s, after the video's end ({duration:.6g} s): they are on "
                "the tracker's clock; set gaze: sync to the recording time of the video's first frame (seconds) "
                f"or to the message that marks it (e.g. sync: VIDEO_START) ({span})")
    if _too_slow(t_ns):
        span += "; its rows are a second or more apart"
    return (f"{label}: {span}; check gaze: sync (the recording time of the video's first frame) and "
            "time_unit, or that this file belongs to this video")


def _place_diagnosis(part: Recording, label, settings, video: VideoFrames, place, x, y, on, outside) -> str:
    share = outside.sum() / on.sum()
    seen = f"{100 * share:.0f}% of the tracked samples on the video's frames"
    first_bad = part.where(int(np.flatnonzero(outside)[0]), "x")
    if place is None:
        extent = f"(x up to {np.nanmax(x[on]):.6g}, y up to {np.nanmax(y[on]):.6g}; the video is " \
                 f"{video.width}x{video.height})"
        return (f"{first_bad}: {seen} fall outside the video {extent}: gaze is in screen pixels outside the "
                "video: set coordinates: screen (with screen: [width, height] and video_rect)")
    return (f"{first_bad}: {seen} fall outside {place.describe()}: check gaze: screen and video_rect "
            f"(or max_outside, if viewers looked away this much)")


def describe(points: list, path) -> None:
    """Log what a file gave: points per participant and what was dropped."""
    for p in points:
        dropped = ", ".join(f"{count} {reason}" for reason, count in p.dropped.items() if count)
        log.info("%s: participant %s: %d points (%s) on %d frames%s", path, p.participant, len(p), p.kind,
                 len(np.unique(p.frame)), f"; dropped: {dropped}" if dropped else "")


def video_frames_of(timeline: Timeline, width: int, height: int) -> VideoFrames:
    return VideoFrames(np.asarray(timeline.times, dtype=np.float64), float(timeline.end), int(width), int(height))



# --------------------------------------------------------------------------- gaze_points.csv

POINT_COLUMNS = ("participant", "frame", "time", "x", "y", "kind", "line")


def write_points_csv(points: list, video: VideoFrames, path, source=None) -> int:
    """gaze_points.csv: every point on the video, by participant then frame; return the row count.

    ``time``: the frame's time on the video's timeline (0 = first frame);
    ``x``, ``y``: video pixels; ``kind``: samples, tracker fixations or
    detected fixations; ``line``: the line of the eye-tracking file it came from.
    """
    from ..atomic import StagedCSV

    rows = 0
    with StagedCSV(path, POINT_COLUMNS) as table:
        for p in points:
            for i in np.argsort(p.frame, kind="stable").tolist():
                frame = int(p.frame[i])
                table.row([p.participant, frame, float(video.times[frame]), float(p.x[i]), float(p.y[i]), p.kind,
                           int(p.line[i])])
                rows += 1
    return rows


def read_points_csv(path) -> dict:
    """gaze_points.csv back: column -> array (participant as str, frame int64, x/y float64)."""
    import pandas as pd

    frame = pd.read_csv(path, dtype={"participant": str, "kind": str}, keep_default_na=False)
    missing = [c for c in ("participant", "frame", "x", "y") if c not in frame.columns]
    if missing:
        raise TrackerFileError(f"{path}: not a gaze_points.csv (no column {', '.join(missing)}); "
                               "it is written by the workflow's gaze_points step")
    return {"participant": frame["participant"].to_numpy(dtype=object),
            "frame": frame["frame"].to_numpy(dtype=np.int64),
            "x": frame["x"].to_numpy(dtype=np.float64), "y": frame["y"].to_numpy(dtype=np.float64)}


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


def on_frames(frames, x, y, frame_count: int, width: int, height: int, dropped: dict | None = None) -> GazeOnFrames:
    """Points (frame, x, y video pixels) grouped by frame, at integer pixels; those off the video dropped."""
    frames = np.asarray(frames, dtype=np.int64)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        keep = (frames >= 0) & (frames < frame_count) & (x >= 0) & (x < width) & (y >= 0) & (y < height)
    order = np.argsort(frames[keep], kind="stable")
    kept = frames[keep][order]
    unique, first = np.unique(kept, return_index=True)
    return GazeOnFrames(unique.astype(np.int64), np.append(first, len(kept)).astype(np.int64),
                        np.floor(x[keep][order]).astype(np.int64), np.floor(y[keep][order]).astype(np.int64),
                        dict(dropped or {}, **{"outside the video or frame": int(np.count_nonzero(~keep))}))


def load_gaze_by_participant(path, timeline: Timeline, width: int, height: int) -> dict:
    """Participant -> GazeOnFrames of a gaze_points.csv, or of a tidy gaze CSV (every row a point).

    A tidy CSV (columns x, y and time or frame; participant optional; video
    pixels and seconds of the video's timeline) is what ``gaze:`` took before
    tracker exports, and what may be given to the command line by hand.
    """
    path = str(path)
    count = len(timeline.times)
    if _is_points_csv(path):
        table = read_points_csv(path)
        out = {}
        for who in dict.fromkeys(table["participant"].tolist()):
            mine = table["participant"] == who
            out[who] = on_frames(table["frame"][mine], table["x"][mine], table["y"][mine], count, width, height)
        return out
    video = video_frames_of(timeline, width, height)
    points = read_points(path, GazeSettings(points="samples"), video)
    describe(points, path)
    return {p.participant: on_frames(p.frame, p.x, p.y, count, width, height, p.dropped) for p in points}


def pooled(parts: dict, frame_count: int, width: int, height: int) -> GazeOnFrames:
    """Every participant's points together."""
    frames = np.concatenate([np.repeat(g.frames, np.diff(g.start)) for g in parts.values()] or [np.empty(0)])
    x = np.concatenate([g.x for g in parts.values()] or [np.empty(0)])
    y = np.concatenate([g.y for g in parts.values()] or [np.empty(0)])
    return on_frames(frames, x, y, frame_count, width, height)


def load_gaze(path, timeline: Timeline, width: int, height: int) -> GazeOnFrames:
    """Every participant's points of ``path`` together (see ``load_gaze_by_participant``), logged."""
    parts = load_gaze_by_participant(path, timeline, width, height)
    gaze = pooled(parts, len(timeline.times), width, height)
    log.info("%s: %d participants, %d points on %d frames", path, len(parts), gaze.n_points, len(gaze.frames))
    return gaze


def _is_points_csv(path: str) -> bool:
    with open(path, encoding="utf-8-sig") as handle:
        return handle.readline().strip() == ",".join(POINT_COLUMNS)
