"""Config ``gaze:`` and ``aoi:``: the settings, which files belong to which video, all checked before any job.

``gaze:`` forms:

* ``gaze: data/gaze/{video}.csv`` or ``gaze: {my_video: data/my.csv}`` (the
  form before tracker exports): tidy CSVs in video pixels and seconds of
  the video's timeline; every row is a point (``points: samples``);
* ``gaze: {files: data/gaze/{video}/{participant}.asc, format: ..., ...}``:
  the keys of ``gaze.GazeSettings`` (docs/evaluation.md). ``{participant}``
  matches any name; without it, a file's participant column names its
  participants, else the file is one participant named after it.

``aoi:`` takes a pattern with ``{video}`` or a mapping of video ids to CSVs.
Mistakes in the config are one sentence naming the key; every file found is
read and checked against its video (``checked_files``), so a bad file, or
gaze that misses the video, stops the run at once, naming file, line and
column.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_text
from ..errors import ConfigError
from .fixations import METHODS, FixationFilter, geometry
from .gaze import (COORDINATES, FIXATION_SOURCES, POINTS, GazeSettings, VideoFrames, check_recording,
                   open_recording, points_of_recording)
from .screen import RECT_WORDS, placement
from .trackers import CSV_ROLES, EYES, FORMATS, SECONDS_PER

KEYS = ("files", "format", "columns", "time_unit", "coordinates", "screen", "video_rect", "sync", "points",
        "fixations", "fixation_filter", "screen_cm", "distance_cm", "separator", "decimal", "missing", "eye",
        "max_outside")
SEPARATORS = {"auto": None, ",": ",", ";": ";", "\t": "\t", "tab": "\t"}
DECIMALS = {"auto": None, ".": ".", ",": ","}


def settings_from_config(config: dict) -> GazeSettings | None:
    """The gaze settings of a config (None without gaze); ConfigError in one sentence otherwise."""
    setting = config.get("gaze")
    ppd = config.get("pixels_per_degree")
    if ppd is not None and not (_number(ppd) and ppd > 0):
        raise ConfigError(f"config 'pixels_per_degree': {ppd!r} must be a positive number (pixels of the video "
                          "per degree of visual angle)")
    if not setting:
        return None
    if isinstance(setting, str):
        return GazeSettings(files=_pattern(setting), points="samples", pixels_per_degree=ppd)
    if isinstance(setting, (list, tuple)):
        raise ConfigError("config 'gaze': a list is not accepted; give one path pattern with {video} (and "
                          "{participant} for one file per participant), e.g. gaze: {files: "
                          "data/gaze/{video}/{participant}.csv}")
    if not isinstance(setting, dict):
        raise ConfigError(f"config 'gaze': {setting!r} must be a path pattern with {{video}} or a mapping "
                          "(gaze: {files: ..., format: ...})")
    if "files" in setting and setting["files"] is None:
        return None  # the schema's defaults alone: no gaze
    if "files" not in setting:  # {video id: path}
        for video, path in setting.items():
            if not isinstance(path, str):
                raise ConfigError(f"config 'gaze: {video}': {path!r} must be the path of that video's gaze "
                                  "file (or use gaze: {files: pattern with {video}, ...})")
        return GazeSettings(files=dict(setting), points="samples", pixels_per_degree=ppd)
    unknown = [key for key in setting if key not in KEYS]
    if unknown:
        raise ConfigError(f"config 'gaze: {unknown[0]}': not a gaze setting; the settings are {', '.join(KEYS)}")
    values = {"pixels_per_degree": ppd}
    files = setting["files"]
    if isinstance(files, str):
        values["files"] = _pattern(files)
    elif isinstance(files, dict) and all(isinstance(v, str) for v in files.values()):
        values["files"] = dict(files)
    else:
        raise ConfigError(f"config 'gaze: files': {files!r} must be a path pattern with {{video}} (and "
                          "{participant}), or map video ids to files")
    for key, allowed in (("format", ("auto", *FORMATS)), ("time_unit", tuple(SECONDS_PER)),
                         ("coordinates", COORDINATES), ("points", POINTS), ("fixations", FIXATION_SOURCES),
                         ("eye", EYES)):
        if key in setting:
            values[key] = _choice(key, setting[key], allowed)
    if "columns" in setting:
        columns = setting["columns"] or {}
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise ConfigError(f"config 'gaze: columns': {columns!r} must map roles to column names, e.g. "
                              "{time: TimeStamp, x: GazeX, y: GazeY}")
        for role in columns:
            if role not in CSV_ROLES:
                raise ConfigError(f"config 'gaze: columns: {role}': not a role; the roles are "
                                  f"{', '.join(CSV_ROLES)}")
        values["columns"] = dict(columns)
    if setting.get("screen") is not None:
        values["screen"] = _pair("screen", setting["screen"], "[width, height] in pixels")
    if setting.get("screen_cm") is not None:
        values["screen_cm"] = _pair("screen_cm", setting["screen_cm"], "[width, height] in cm")
    if setting.get("distance_cm") is not None:
        distance = setting["distance_cm"]
        if not (_number(distance) and distance > 0):
            raise ConfigError(f"config 'gaze: distance_cm': {distance!r} must be the eye-to-screen distance in "
                              "cm (a positive number)")
        values["distance_cm"] = float(distance)
    if "video_rect" in setting:
        rect = setting["video_rect"]
        if isinstance(rect, str):
            values["video_rect"] = _choice("video_rect", rect, RECT_WORDS)
        elif isinstance(rect, (list, tuple)) and len(rect) == 4 and all(_number(v) for v in rect) \
                and rect[2] > 0 and rect[3] > 0:
            values["video_rect"] = tuple(float(v) for v in rect)
        else:
            raise ConfigError(f"config 'gaze: video_rect': {rect!r} must be one of {', '.join(RECT_WORDS)} or "
                              "[x, y, width, height] in screen pixels")
    if "sync" in setting:
        sync = setting["sync"]
        if isinstance(sync, bool) or not (isinstance(sync, str) and sync.strip() or
                                          _number(sync) and math.isfinite(sync)):
            raise ConfigError(f"config 'gaze: sync': {sync!r} must be the recording time of the video's first "
                              "frame in seconds, or the text of the message that marks it (e.g. VIDEO_START)")
        values["sync"] = sync.strip() if isinstance(sync, str) else float(sync)
    if "separator" in setting:
        values["separator"] = SEPARATORS[_choice("separator", setting["separator"], tuple(SEPARATORS))]
    if "decimal" in setting:
        values["decimal"] = DECIMALS[_choice("decimal", setting["decimal"], tuple(DECIMALS))]
    if "missing" in setting:
        missing = setting["missing"]
        if not isinstance(missing, (list, tuple)) or not all(isinstance(v, (str, int, float)) for v in missing):
            raise ConfigError(f"config 'gaze: missing': {missing!r} must be a list of the cell values your "
                              "tracker writes for a lost sample, e.g. [0, -1]")
        values["missing"] = tuple(str(v) for v in missing)
    if "max_outside" in setting:
        share = setting["max_outside"]
        if not (_number(share) and 0 <= share <= 1):
            raise ConfigError(f"config 'gaze: max_outside': {share!r} must be a share between 0 and 1")
        values["max_outside"] = float(share)
    if "fixation_filter" in setting:
        values["fixation_filter"] = _fixation_filter(setting["fixation_filter"] or {})
    if values.get("points", "fixations") == "fixations" and values.get("fixations") != "tracker":
        physical = [k for k in ("screen_cm", "distance_cm") if k in values]
        if len(physical) == 1:
            other = ({"screen_cm", "distance_cm"} - set(physical)).pop()
            raise ConfigError(f"config 'gaze': {physical[0]} needs {other} too (the viewing geometry that "
                              "turns pixels into degrees)")
    return GazeSettings(**values)


def normalized_gaze(setting):
    """Config ``gaze:`` in its one full form: the short forms become ``{files: ..., points: samples}``.

    (So that the schema fills in the other settings' defaults.)
    """
    if not setting:
        return {}
    if isinstance(setting, str) or (isinstance(setting, dict) and "files" not in setting):
        return {"files": setting, "points": "samples"}
    return setting


def _fixation_filter(setting) -> FixationFilter:
    if not isinstance(setting, dict):
        raise ConfigError(f"config 'gaze: fixation_filter': {setting!r} must be a mapping, e.g. "
                          "{method: ivt, velocity_threshold: 30}")
    fields = [f.name for f in dataclasses.fields(FixationFilter)]
    for key, value in setting.items():
        if key not in fields:
            raise ConfigError(f"config 'gaze: fixation_filter: {key}': not a setting; the settings are "
                              f"{', '.join(fields)}")
        if key == "method":
            _choice("fixation_filter: method", value, METHODS)
        elif not _number(value):
            raise ConfigError(f"config 'gaze: fixation_filter: {key}': {value!r} must be a number")
    return FixationFilter(**setting)


def _pattern(pattern: str) -> str:
    if "{video}" not in pattern:
        raise ConfigError(f"config 'gaze': {pattern!r} must contain {{video}} (replaced by each video's id), or "
                          "map video ids to files: gaze: {files: {my_video: data/my_video.csv}}")
    unknown = set(re.findall(r"\{([^}]*)\}", pattern)) - {"video", "participant"}
    if unknown:
        raise ConfigError(f"config 'gaze': {pattern!r} has {{{sorted(unknown)[0]}}}; a pattern may hold "
                          "{video} and {participant} only")
    return pattern


def _choice(key, value, allowed):
    if value not in allowed:
        shown = ", ".join(repr(a) if a in ("\t", ",", ";", ".") else str(a) for a in allowed)
        raise ConfigError(f"config 'gaze: {key}': {value!r} is not one of {shown}")
    return value


def _pair(key, value, what):
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(_number(v) and v > 0 for v in value)):
        raise ConfigError(f"config 'gaze: {key}': {value!r} must be {what}")
    return tuple(value)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- which files


def check_aoi_setting(setting) -> None:
    """Config ``aoi:``: a pattern with {video} or a mapping of video ids to CSVs (ConfigError otherwise)."""
    if not setting:
        return
    if isinstance(setting, str):
        if "{video}" not in setting:
            raise ConfigError(f"config 'aoi': {setting!r} must contain {{video}} (replaced by each video's id), or "
                              "map video ids to files: aoi: {my_video: data/my_video.csv}")
        return
    if not isinstance(setting, dict) or not all(isinstance(v, str) and v for v in setting.values()):
        raise ConfigError(f"config 'aoi': {setting!r} must be a path pattern with {{video}} or map video ids to "
                          "AOI CSV files, e.g. aoi: data/aoi/{video}.csv")


def files_per_video(key: str, setting, video_ids, base=".") -> dict[str, Path]:
    """Video id → CSV path for config ``key`` (``gaze`` or ``aoi``), only for videos that have one."""
    if not setting:
        return {}
    if key == "aoi":
        check_aoi_setting(setting)
    base = Path(base)
    if isinstance(setting, str):
        if "{video}" not in setting:
            raise ConfigError(f"config '{key}': {setting!r} must contain {{video}} (replaced by each video's "
                              f"id), or map video ids to files: {key}: {{my_video: data/my_video.csv}}")
        found = {vid: base / setting.replace("{video}", vid) for vid in video_ids}
        return {vid: path for vid, path in found.items() if path.is_file()}
    files = {}
    for vid, path in setting.items():
        if vid not in video_ids:
            raise ConfigError(f"config '{key}': no video has the id {vid!r} (ids: {', '.join(sorted(video_ids))})")
        path = base / str(path)
        if not path.is_file():
            raise ConfigError(f"config '{key}': {path} (for video {vid!r}) does not exist; fix the path")
        files[vid] = path
    return files


def unmatched_notice(key: str, pattern, video_ids, found) -> str | None:
    """A line saying which videos a ``{video}`` pattern found no file for (they are not evaluated)."""
    if not isinstance(pattern, str):
        return None
    missing = sorted(set(video_ids) - set(found))
    if not missing:
        return None
    looked = ", ".join(pattern.replace("{video}", vid) for vid in missing[:3]) + (", ..." if len(missing) > 3 else "")
    done = {"gaze": "compared with gaze", "aoi": "measured on areas of interest"}.get(key, "evaluated")
    if not found:
        return f"config '{key}': the pattern {pattern!r} matches no file (looked for {looked}): no video is {done}"
    return (f"config '{key}': no file for {len(missing)} of {len(set(video_ids))} videos (looked for {looked}): "
            f"those are not {done}")


def participant_files(settings: GazeSettings, video_ids, base=".") -> dict:
    """video id -> {participant name or None: path} for the videos that have gaze files.

    ``{participant}`` in the pattern matches any name (without '/'); None:
    the file's own participant column, else one participant named after the
    file.
    """
    base = Path(base)
    files = settings.files
    out = {}
    if isinstance(files, dict):
        for video, path in files.items():
            if video not in video_ids:
                raise ConfigError(f"config 'gaze': no video has the id {video!r} (ids: "
                                  f"{', '.join(sorted(video_ids))})")
            if "{participant}" in path:
                found = _participants(base, path.replace("{video}", video))
            else:
                found = {None: base / path} if (base / path).is_file() else {}
            if not found:
                raise ConfigError(f"config 'gaze': {base / path} (for video {video!r}) does not exist; fix the "
                                  "path")
            out[video] = found
        return out
    for video in sorted(video_ids):
        pattern = files.replace("{video}", video)
        found = _participants(base, pattern) if "{participant}" in pattern else \
            ({None: base / pattern} if (base / pattern).is_file() else {})
        if found:
            out[video] = found
    return out


def _participants(base: Path, pattern: str) -> dict:
    """{participant: path} of the files matching a pattern with {participant}."""
    head, _, tail = str(base / pattern).partition("{participant}")
    if "{participant}" in tail:
        raise ConfigError(f"config 'gaze': {pattern!r} holds {{participant}} twice")
    regex = re.compile(re.escape(head) + r"([^/]+?)" + re.escape(tail) + r"$")
    found = {}
    for path in sorted(glob.glob(glob.escape(head) + "*" + glob.escape(tail))):
        match = regex.match(path)
        if match and Path(path).is_file():
            found[match.group(1)] = Path(path)
    return found


# --------------------------------------------------------------------------- the checks when the run is planned


@dataclass
class EyeTracking:
    """What the config's gaze and AOI files are, per video, once checked."""

    settings: GazeSettings | None
    gaze: dict  # video id -> {participant name or None: Path}
    aoi: dict  # video id -> Path
    pixels_per_degree: dict  # video id -> pixels of the video per degree (the blur of human maps)


def checked_files(config: dict, videos: dict, cache_dir=None, results="results") -> EyeTracking:
    """Settings, files and viewing geometry of every video with gaze or AOIs; ConfigError/TableError otherwise.

    ``videos``: id -> video path. Each file is read and checked against its
    video: the probe's frames (``results/<id>/probe.json``) where the video
    was probed, else its header's size, rate and duration. ``cache_dir``:
    remember files that passed (by path, size, modification time, settings
    and video), so that the DAG builds of cluster jobs do not parse large
    files again.
    """
    from .aoi import check_inside, read_aoi_csv

    settings = settings_from_config(config)
    gaze = participant_files(settings, set(videos)) if settings else {}
    aois = files_per_video("aoi", config.get("aoi"), set(videos))
    if gaze and settings.pixels_per_degree is None and (settings.screen_cm is None or settings.distance_cm is None):
        pixels_per_degree(settings, None)  # the config error, before any file is read
    stream = config.get("video_stream", "auto")
    facts = {vid: video_facts(videos[vid], Path(results) / vid / "probe.json", stream) for vid in {*gaze, *aois}}
    ppd = {}
    for vid, files in gaze.items():
        stated = {}  # what the files say of the screen and the video's place on it
        for participant, path in files.items():
            marker = _marker(path, cache_dir, settings, facts[vid]) if cache_dir else None
            if marker is not None and marker.exists():
                stated = stated or json.loads(marker.read_text())
                continue
            recording = open_recording(path, settings)
            check_recording(recording, settings, facts[vid], video_id=vid, participant=participant)
            points_of_recording(recording, settings, facts[vid], video_id=vid, participant=participant)
            said = {"screen": recording.screen, "media_rect": recording.media_rect}
            stated = stated or said
            if marker is not None:
                write_text(marker, json.dumps(said) + "\n")
        ppd[vid] = pixels_per_degree(settings, facts[vid], stated.get("screen"), stated.get("media_rect"))
    for vid, path in aois.items():
        marker = _marker(path, cache_dir, None, facts[vid]) if cache_dir else None
        if marker is None or not marker.exists():
            check_inside(path, read_aoi_csv(path), facts[vid].width, facts[vid].height)
            if marker is not None:
                write_text(marker, str(path) + "\n")
    return EyeTracking(settings, gaze, aois, ppd)


def video_facts(video_path, probe_json: Path, video_stream="auto") -> VideoFrames:
    """The video as the gaze checks need it: the probe's frames where it exists, else the header's estimate."""
    from ..video import glance, load_probe

    if probe_json.is_file():
        info = load_probe(probe_json)
        return VideoFrames(list(info.times), info.duration, info.width, info.height)
    seen = glance(video_path, video_stream)
    return VideoFrames(list(seen.times), seen.duration, seen.width, seen.height)


def pixels_per_degree(settings: GazeSettings, video: VideoFrames, screen=None, media_rect=None) -> float:
    """Pixels of the video per degree: config ``pixels_per_degree``, else from the physical geometry.

    From ``screen_cm`` and ``distance_cm``: the screen's pixels per degree at
    its centre, times the video's pixels per screen pixel (its rectangle on
    the screen, ``video_rect``). ``screen``, ``media_rect``: what the files say.
    """
    if settings.pixels_per_degree is not None:
        return float(settings.pixels_per_degree)
    if settings.screen_cm is None or settings.distance_cm is None:
        raise ConfigError("config 'gaze' needs the viewing geometry: 'pixels_per_degree' (pixels of the video per "
                          "degree of visual angle as the viewers saw it), or gaze: screen_cm and distance_cm "
                          "(with the screen's size in pixels)")
    screen = settings.screen or screen
    if screen is None:
        raise ConfigError("config 'gaze': screen_cm and distance_cm need the screen's size in pixels too "
                          "(gaze: screen: [width, height]), as the files do not say it")
    physical = geometry(screen=screen, screen_cm=settings.screen_cm, distance_cm=settings.distance_cm)
    place = placement(settings.video_rect, screen, (video.width, video.height), media_rect)
    return physical.center_pixels_per_degree * video.width / place.width


def _marker(path: Path, cache_dir, settings, video: VideoFrames) -> Path:
    path = Path(path)
    stat = path.stat()  # the change time too: a file copied over with `cp -p` is checked again
    facts = (repr(settings), len(video.times), float(video.end), video.width, video.height)
    key = hashlib.sha1(f"{path.resolve()}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}|{facts}"
                       .encode("utf-8", "surrogateescape")).hexdigest()
    return Path(cache_dir) / f"{key}.ok"
