"""Config ``gaze:`` and ``aoi:``: which CSV belongs to which video, checked before any job runs.

Each key takes a mapping of video id to CSV path, or one path pattern with
``{video}`` (replaced by each video's id; videos whose file does not exist
are simply not evaluated). Every file found is read and checked here, so a
bad CSV stops the run at once, naming its file, line and column.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..atomic import write_text
from ..errors import ConfigError


def files_per_video(key: str, setting, video_ids, base=".") -> dict[str, Path]:
    """Video id → CSV path for config ``key`` (``gaze`` or ``aoi``), only for videos that have one."""
    if not setting:
        return {}
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


def unmatched_notice(key: str, setting, video_ids, found) -> str | None:
    """A line saying which videos a ``{video}`` pattern found no file for (they are not evaluated)."""
    if not isinstance(setting, str):
        return None
    missing = sorted(set(video_ids) - set(found))
    if not missing:
        return None
    looked = ", ".join(setting.replace("{video}", vid) for vid in missing[:3]) + (", ..." if len(missing) > 3 else "")
    done = {"gaze": "compared with gaze", "aoi": "measured on areas of interest"}.get(key, "evaluated")
    if not found:
        return f"config '{key}': the pattern {setting!r} matches no file (looked for {looked}): no video is {done}"
    return (f"config '{key}': no file for {len(missing)} of {len(set(video_ids))} videos (looked for {looked}): "
            f"those are not {done}")


def checked_files(config: dict, video_ids, cache_dir=None) -> tuple[dict[str, Path], dict[str, Path]]:
    """(gaze files, AOI files) per video, each file read and checked; ConfigError/TableError otherwise.

    ``cache_dir``: remember files that passed (by path, size and modification
    time), so that the DAG builds of cluster jobs do not parse large gaze
    files again.
    """
    from .aoi import read_aoi_csv
    from .gaze import read_gaze_csv

    gaze = files_per_video("gaze", config.get("gaze"), video_ids)
    aois = files_per_video("aoi", config.get("aoi"), video_ids)
    if gaze and not config.get("pixels_per_degree"):
        raise ConfigError("config 'gaze' needs 'pixels_per_degree': pixels of the video per degree of visual "
                          "angle as the viewers saw it (e.g. about 40 for a 1920 px wide video filling 48 degrees)")
    for files, read in ((gaze, read_gaze_csv), (aois, read_aoi_csv)):
        for path in files.values():
            marker = _marker(path, cache_dir) if cache_dir else None
            if marker is None or not marker.exists():
                read(path)
                if marker is not None:
                    write_text(marker, str(path) + "\n")
    return gaze, aois


def _marker(path: Path, cache_dir) -> Path:
    stat = path.stat()  # the change time too: a file copied over with `cp -p` is checked again
    key = hashlib.sha1(f"{path.resolve()}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}"
                       .encode("utf-8", "surrogateescape")).hexdigest()
    return Path(cache_dir) / f"{key}.ok"
