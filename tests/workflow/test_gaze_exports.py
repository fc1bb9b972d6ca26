"""Eye-tracker exports of a real recording through the real snakemake (Lund 2013, ../shared, GPL-3.0).

The triple-jump video with six viewers' samples written as an EyeLink ASC,
a Tobii Pro Lab TSV and a semicolon/decimal-comma CSV
(tests/data/lund2013/make_exports.py). Each format, run through the
workflow's gaze_points step, must give the same points on the same frames;
those points must be the source's samples moved by exactly the video's
place on the screen (152, 96) and the sync (frame = 40 ms steps from the
first sample). Then every silent-wrong input of the issue must stop the run
before any job, with its message. Skipped where ../shared is absent.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers.lund2013 import exports, written_exports
from helpers.snakemake import snakemake

pytestmark = pytest.mark.slow


SCREEN = {"coordinates": "screen", "screen": [1024, 768], "video_rect": "centered"}
GEOMETRY = {"screen_cm": [38, 30], "distance_cm": 67}
FORMATS = {
    "eyelink": {"files": "data/eyelink/{video}/{participant}.asc", "sync": "VIDEO_START", **SCREEN},
    # the screen and the video's place come from the export's own columns
    "tobii": {"files": "data/tobii/{video}/{participant}.tsv", "sync": "VideoStimulusStart",
              "coordinates": "screen"},
    "csv": {"files": "data/csv/{video}.csv", "sync": "VIDEO_START", **SCREEN},
}
TARGET = "results/triple_jump/gaze_points.csv"


@pytest.fixture(scope="module")
def lund(tmp_path_factory):
    shared, data, _ = written_exports(tmp_path_factory)
    return shared, data


def workdir_for(tmp_path_factory, lund, name: str, gaze, **config) -> Path:
    shared, data = lund
    workdir = tmp_path_factory.mktemp(name)
    (workdir / "triple_jump.avi").symlink_to(shared / "data" / "lund2013" / "triple_jump.avi")
    (workdir / "data").symlink_to(data)
    settings = {"videos": ["triple_jump.avi"], "weights": "untrained", "chunk_frames": 143, "threads": 1,
                "gaze": gaze, **config}
    (workdir / "config.yaml").write_text(yaml.safe_dump(settings))
    return workdir


def read_points(path: Path) -> dict:
    """participant -> rows (frame, time, x, y) of gaze_points.csv, as written."""
    out: dict = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            out.setdefault(row["participant"], []).append((row["frame"], row["time"], row["x"], row["y"]))
    return out


@pytest.fixture(scope="module")
def points(tmp_path_factory, lund):
    """format -> points mode -> gaze_points.csv as read."""
    out = {}
    for fmt, gaze in FORMATS.items():
        out[fmt] = {}
        for mode, extra in (("samples", {"points": "samples"}), ("detected", {"fixations": "detect"}),
                            ("fixations", {})):
            workdir = workdir_for(tmp_path_factory, lund, f"{fmt}_{mode}", {**gaze, **GEOMETRY, **extra})
            snakemake(workdir, "--cores", "1", TARGET)
            out[fmt][mode] = read_points(workdir / TARGET)
            out[fmt][mode + " log"] = (workdir / "logs/triple_jump/gaze_points.log").read_text()
    return out


@pytest.mark.parametrize("mode", ["samples", "detected"])
def test_every_format_gives_the_same_points_on_the_same_frames(points, mode):
    reference = points["eyelink"][mode]
    assert sorted(reference) == sorted(exports.VIEWERS)
    for fmt in ("tobii", "csv"):
        assert points[fmt][mode] == reference, fmt
    assert "read as eyelink (detected)" in points["eyelink"][mode + " log"]
    assert "read as tobii (detected)" in points["tobii"][mode + " log"]


def test_the_trackers_fixations_are_used_where_the_file_has_them(points):
    assert points["tobii"]["fixations"] == points["eyelink"]["fixations"]  # the same events in both files
    assert "tracker fixations" in points["eyelink"]["fixations log"]
    assert "detected fixations" in points["csv"]["fixations log"]  # the CSV has none: detected
    assert points["csv"]["fixations"] == points["csv"]["detected"]


def test_screen_to_video_and_sync_are_exact(points, lund):
    shared, _ = lund
    for viewer, rows in points["csv"]["samples"].items():
        source = exports.load_viewer(shared, viewer)
        frame = (source.time_ms - source.time_ms[0]) // 40  # 25 fps from the first sample
        x, y = source.x - 152, source.y - 96  # centred 720x576 on 1024x768
        keep = ~np.isnan(x) & (x >= 0) & (x < 720) & (y >= 0) & (y < 576)
        order = np.argsort(frame[keep], kind="stable")
        assert [int(r[0]) for r in rows] == frame[keep][order].tolist()
        assert [float(r[1]) for r in rows] == (frame[keep][order] / 25).tolist()  # the frames' times
        assert [float(r[2]) for r in rows] == x[keep][order].tolist()
        assert [float(r[3]) for r in rows] == y[keep][order].tolist()


# --------------------------------------------------------------------------- silent-wrong input: refused before any job


def write_csv(path: Path, header: str, rows) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "".join(",".join(f"{v}" for v in row) + "\n" for row in rows))
    return str(path)


def refused(tmp_path_factory, lund, name: str, gaze, **config) -> str:
    """The message of a dry run that must stop when the DAG is built."""
    workdir = workdir_for(tmp_path_factory, lund, name, gaze, pixels_per_degree=31.5, **config)
    result = snakemake(workdir, "--dry-run", check=False)
    assert result.returncode != 0, result.stdout
    assert not (workdir / "results").exists()  # no job ran
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "jsonschema" not in output.lower(), output
    return " ".join(output.split())


@pytest.fixture(scope="module")
def tl30(lund):
    shared, _ = lund
    viewer = exports.load_viewer(shared, "TL30")
    seconds = (viewer.time_ms - viewer.time_ms[0]) / 1000
    return viewer, seconds


def test_times_in_milliseconds_are_refused(tmp_path_factory, lund, tl30):
    viewer, seconds = tl30
    own = tmp_path_factory.mktemp("ms")
    path = write_csv(own / "triple_jump.csv", "time,x,y",
                     zip(np.round(seconds * 1000).astype(int), viewer.x - 152, viewer.y - 96))
    message = refused(tmp_path_factory, lund, "ms", str(own / "{video}.csv"))
    assert f"{path}, column 'time': times look like milliseconds: set time_unit: ms" in message


def test_normalised_coordinates_are_refused(tmp_path_factory, lund, tl30):
    viewer, seconds = tl30
    own = tmp_path_factory.mktemp("norm")
    path = write_csv(own / "triple_jump.csv", "time,x,y", zip(seconds, viewer.x / 1024, viewer.y / 768))
    message = refused(tmp_path_factory, lund, "norm", str(own / "{video}.csv"))
    assert f"{path}, line 2, column 'x': coordinates are all within 0-1: normalised?" in message


def test_screen_pixels_read_as_video_pixels_are_refused(tmp_path_factory, lund, tl30):
    viewer, seconds = tl30
    own = tmp_path_factory.mktemp("screen")
    path = write_csv(own / "triple_jump.csv", "time,x,y", zip(seconds, viewer.x, viewer.y))
    message = refused(tmp_path_factory, lund, "screen_csv", str(own / "{video}.csv"))
    assert f"{path}, line" in message and "gaze is in screen pixels outside the video: set coordinates: screen" \
        in message
    # an EyeLink file says its screen: refused whatever share of the gaze falls on the video
    message = refused(tmp_path_factory, lund, "screen_asc", {"files": FORMATS["eyelink"]["files"],
                                                             "sync": "VIDEO_START"})
    assert "TL30.asc: gaze is in screen pixels outside the video: its DISPLAY_COORDS give a 1024x768 screen, " \
           "the video is 720x576: set coordinates: screen" in message


def test_the_trackers_clock_without_a_sync_is_refused(tmp_path_factory, lund):
    message = refused(tmp_path_factory, lund, "clock", {**FORMATS["eyelink"], "sync": 0})
    assert "TL30.asc: the times start at 3376.24 s, after the video's end (5.72 s): they are on the tracker's " \
           "clock; set gaze: sync" in message


def test_a_time_and_a_frame_column_are_refused(tmp_path_factory, lund, tl30):
    viewer, seconds = tl30
    own = tmp_path_factory.mktemp("both")
    path = write_csv(own / "triple_jump.csv", "time,frame,x,y",
                     zip(seconds, (seconds * 25).astype(int), viewer.x - 152, viewer.y - 96))
    message = refused(tmp_path_factory, lund, "both", str(own / "{video}.csv"))
    assert f"{path}, line 1, columns 'time' and 'frame': both a time and a frame column" in message


@pytest.mark.parametrize("rows, expected", [
    ("name,x0,y0,x1,y1,start,end\nplayer,100,100,300,400,3,1\n",
     "line 2, column 'end': AOI 'player' ends (1 s) at or before its start (3 s)"),
    ("name,x0,y0,x1,y1\nscore,40,20,400,120\nplayer,800,300,1100,900\n",  # the README's 1080p example
     "line 3, column 'x0': x0 = 800 lies outside the 720x576 frame"),
])
def test_bad_aois_are_refused(tmp_path_factory, lund, rows, expected):
    own = tmp_path_factory.mktemp("aoi")
    (own / "aoi.csv").write_text(rows)
    message = refused(tmp_path_factory, lund, "aoi", {**FORMATS["csv"], "points": "samples"},
                      aoi={"triple_jump": str(own / "aoi.csv")})
    assert f"{own / 'aoi.csv'}, {expected}" in message


@pytest.mark.parametrize("gaze, expected", [
    (["data/a.csv", "data/b.csv"], "config 'gaze': a list is not accepted; give one path pattern with {video}"),
    ({"files": "data/csv/{video}.csv", "time_units": "ms"}, "config 'gaze: time_units': not a gaze setting"),
    ({"files": "data/csv/{video}.csv", "coordinates": "pixels"},
     "config 'gaze: coordinates': 'pixels' is not one of video, screen"),
])
def test_config_mistakes_are_one_sentence(tmp_path_factory, lund, gaze, expected):
    assert expected in refused(tmp_path_factory, lund, "config", gaze)
