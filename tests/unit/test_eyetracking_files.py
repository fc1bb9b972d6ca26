"""Config gaze:/aoi: to files per video, and the check of every file before any job."""

from __future__ import annotations

from pathlib import Path

import pytest

from salience.errors import ConfigError
from salience.evaluation.files import checked_files, files_per_video
from salience.evaluation.tables import TableError


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
    (tmp_path / "a.csv").write_text("time,x,y\n0,1,1\n")
    config = {"gaze": {"a": "a.csv"}, "pixels_per_degree": 30}
    with pytest.raises(ConfigError, match="needs 'pixels_per_degree'"):
        checked_files({"gaze": {"a": "a.csv"}}, {"a"})
    gaze, aoi = checked_files(config, {"a"}, tmp_path / "cache")
    assert gaze == {"a": Path("a.csv")} and aoi == {} and len(list((tmp_path / "cache").iterdir())) == 1
    (tmp_path / "a.csv").write_text("time,x,y\n0,1,1\n0.5,1,oops\n")  # changed: checked again
    with pytest.raises(TableError, match=r"a.csv, line 3, column 'y'"):
        checked_files(config, {"a"}, tmp_path / "cache")
