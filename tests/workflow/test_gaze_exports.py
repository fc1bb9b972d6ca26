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
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("lund2013_exports", REPO / "tests/data/lund2013/make_exports.py")
exports = sys.modules.setdefault("lund2013_exports", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(exports)

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


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
               str(workdir), "--configfile", str(workdir / "config.yaml"), *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def lund(tmp_path_factory):
    shared = exports.shared_dir()
    if shared is None:
        pytest.skip("../shared/data/lund2013 is absent")
    data = tmp_path_factory.mktemp("lund_exports")
    exports.write_all(data, shared)
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
