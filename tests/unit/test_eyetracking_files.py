"""Config gaze:/aoi: settings in one sentence each, files per video and participant, every file checked before any job."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers.videos import make_video

from salience.errors import ConfigError
from salience.evaluation.files import checked_files, files_per_video, participant_files, settings_from_config
from salience.evaluation.gaze import GazeSettings
from salience.evaluation.tables import TableError
from salience.evaluation.trackers import TrackerFileError


def test_pattern_mapping_and_errors(tmp_path):
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "a.csv").write_text("time,x,y\n0,1,1\n")
    assert files_per_video("gaze", "g/{video}.csv", {"a", "b"}, tmp_path) == {"a": tmp_path / "g" / "a.csv"}
    assert files_per_video("gaze", {"a": "g/a.csv"}, {"a", "b"}, tmp_path) == {"a": tmp_path / "g" / "a.csv"}
    assert files_per_video("gaze", {}, {"a"}, tmp_path) == {}
    with pytest.raises(ConfigError, match=r"must contain \{video\}"):
        files_per_video("gaze", "g/a.csv", {"a"}, tmp_path)
    with pytest.raises(ConfigError, match=r"no video has the id 'c' \(ids: a, b\)"):
        files_per_video("aoi", {"c": "g/a.csv"}, {"a", "b"}, tmp_path)
    with pytest.raises(ConfigError, match=r"g/b.csv \(for video 'b'\) does not exist"):
        files_per_video("gaze", {"b": "g/b.csv"}, {"a", "b"}, tmp_path)


def test_files_are_checked_and_good_ones_remembered(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_video(tmp_path / "a.mp4", frames=10, fps=10)
    (tmp_path / "a.csv").write_text("time,x,y\n0,1,1\n0.5,1,1\n0.9,2,2\n")
    config = {"gaze": {"a": "a.csv"}, "pixels_per_degree": 30}
    with pytest.raises(ConfigError, match="needs the viewing geometry: 'pixels_per_degree'"):
        checked_files({"gaze": {"a": "a.csv"}}, {"a": tmp_path / "a.mp4"})
    found = checked_files(config, {"a": tmp_path / "a.mp4"}, tmp_path / "cache")
    assert found.gaze == {"a": {None: Path("a.csv")}} and found.aoi == {} and found.pixels_per_degree == {"a": 30}
    assert len(list((tmp_path / "cache").iterdir())) == 1
    (tmp_path / "a.csv").write_text("time,x,y\n0,1,1\n0.5,1,oops\n")  # changed: checked again
    with pytest.raises(TrackerFileError, match=r"a.csv, line 3, column 'y'"):
        checked_files(config, {"a": tmp_path / "a.mp4"}, tmp_path / "cache")


def test_pixels_per_degree_from_the_physical_geometry(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_video(tmp_path / "a.mp4", frames=10, fps=10, size="64x48")
    (tmp_path / "a.csv").write_text("time,x,y\n" + "".join(f"{t / 10},100,50\n" for t in range(10)))
    gaze = {"files": "{video}.csv", "coordinates": "screen", "screen": [128, 96], "video_rect": "fit",
            "screen_cm": [38, 28.5], "distance_cm": 67, "points": "samples"}
    found = checked_files({"gaze": gaze}, {"a": tmp_path / "a.mp4"})
    # 128 px on 38 cm at 67 cm: 3.94 px per degree at the centre; the video is shown twice its size
    assert found.pixels_per_degree["a"] == pytest.approx(2 * 67 * math.tan(math.radians(0.5)) * 128 / 38 / 2)


def test_aois_are_checked_against_the_video(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_video(tmp_path / "a.mp4", frames=10, fps=10, size="64x48")
    (tmp_path / "aoi.csv").write_text("name,x0,y0,x1,y1\nscore,40,20,400,120\n")
    with pytest.raises(TableError, match=r"aoi.csv, line 2, column 'x1': x1 = 400 lies outside the 64x48 frame"):
        checked_files({"aoi": {"a": "aoi.csv"}}, {"a": tmp_path / "a.mp4"})


def test_the_forms_before_tracker_exports_still_work():
    assert settings_from_config({}) is None and settings_from_config({"gaze": {}}) is None
    legacy = settings_from_config({"gaze": "data/{video}.csv", "pixels_per_degree": 40})
    assert legacy == GazeSettings(files="data/{video}.csv", points="samples", pixels_per_degree=40)
    mapping = settings_from_config({"gaze": {"clip": "clip.csv"}})
    assert mapping.files == {"clip": "clip.csv"} and mapping.points == "samples"


def test_the_contract_of_the_issue():
    settings = settings_from_config({"gaze": {
        "files": "data/gaze/{video}/{participant}.asc", "format": "auto", "columns": {}, "time_unit": "s",
        "coordinates": "screen", "screen": [1024, 768], "video_rect": "centered", "sync": "VIDEO_START",
        "points": "fixations", "screen_cm": [38, 30], "distance_cm": 67,
        "fixation_filter": {"method": "idt", "dispersion_threshold": 1.5}}})
    assert settings.screen == (1024, 768) and settings.sync == "VIDEO_START" and settings.points == "fixations"
    assert settings.fixation_filter.method == "idt" and settings.fixation_filter.min_duration_ms == 100
    assert settings_from_config({"gaze": {"files": "{video}.tsv", "video_rect": [0, 0, 10, 10],
                                          "separator": "tab", "sync": 12.5}}).separator == "\t"


@pytest.mark.parametrize("gaze, message", [
    (["a.csv", "b.csv"], "config 'gaze': a list is not accepted; give one path pattern with {video}"),
    ("gaze.csv", "config 'gaze': 'gaze.csv' must contain {video}"),
    ({"files": "{video}/{subject}.csv"}, "has {subject}; a pattern may hold {video} and {participant} only"),
    ({"files": "{video}.csv", "fromat": "csv"}, "config 'gaze: fromat': not a gaze setting; the settings are files"),
    ({"files": "{video}.csv", "format": "smi"}, "config 'gaze: format': 'smi' is not one of auto, csv, eyelink, tobii"),
    ({"files": "{video}.csv", "time_unit": "sec"}, "config 'gaze: time_unit': 'sec' is not one of s, ms, us"),
    ({"files": "{video}.csv", "screen": [1024]}, r"config 'gaze: screen': \[1024\] must be \[width, height\] in pixels"),
    ({"files": "{video}.csv", "video_rect": "middle"}, "config 'gaze: video_rect': 'middle' is not one of auto"),
    ({"files": "{video}.csv", "sync": True}, "config 'gaze: sync': True must be the recording time"),
    ({"files": "{video}.csv", "columns": {"time": "t", "pupil": "p"}}, "config 'gaze: columns: pupil': not a role"),
    ({"files": "{video}.csv", "fixation_filter": {"velocity": 30}},
     "config 'gaze: fixation_filter: velocity': not a setting"),
    ({"files": "{video}.csv", "distance_cm": 60}, "config 'gaze': distance_cm needs screen_cm too"),
    ({"files": "{video}.csv", "max_outside": 2}, "config 'gaze: max_outside': 2 must be a share between 0 and 1"),
    ({"clip": 3}, "config 'gaze: clip': 3 must be the path of that video's gaze file"),
])
def test_each_mistake_is_one_sentence(gaze, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("{", r"\{") if "\\" not in message
                       else message) as error:
        settings_from_config({"gaze": gaze})
    assert "\n" not in str(error.value)


def test_participant_files_from_the_pattern(tmp_path):
    for name in ("a/P01.asc", "a/P02.asc", "a/notes.txt", "b/P01.asc"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    settings = settings_from_config({"gaze": {"files": "{video}/{participant}.asc"}})
    found = participant_files(settings, {"a", "b", "c"}, base=tmp_path)
    assert found == {"a": {"P01": tmp_path / "a/P01.asc", "P02": tmp_path / "a/P02.asc"},
                     "b": {"P01": tmp_path / "b/P01.asc"}}
    one = settings_from_config({"gaze": "{video}/P01.asc"})
    assert participant_files(one, {"a", "c"}, base=tmp_path) == {"a": {None: tmp_path / "a/P01.asc"}}
    with pytest.raises(ConfigError, match="no video has the id 'z'"):
        participant_files(settings_from_config({"gaze": {"z": "z.csv"}}), {"a"}, base=tmp_path)
