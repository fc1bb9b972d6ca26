"""Files with several video streams: FFmpeg's pick by default, `video_stream` to choose, a notice either way.

Which stream FFmpeg itself picks is held against the ffmpeg binary in
test_recordings (two_streams*.mkv, cover_art.mp4). Here: the notice in the
log, the config key from config.yaml through the probe record to every later
read, and a wrong index stopped when the workflow is planned.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers.snakemake import snakemake, write_config as write_run_config
from helpers.videos import ffmpeg_exe, make_case

from salience import video
from salience.errors import VideoError


@pytest.fixture(scope="module")
def two_streams(tmp_path_factory):
    """Stream 0: 96x64 at 25 fps; stream 1: 64x48 at 20 fps, marked default (FFmpeg's pick)."""
    return make_case("two_streams_small_default.mkv", tmp_path_factory.mktemp("streams"))


def ffmpeg_rgb(path, stream: int, width: int, height: int) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", f"0:{stream}", "-pix_fmt", "rgb24",
                          "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def test_the_log_says_which_stream_is_used_and_how_to_choose(two_streams, caplog):
    with caplog.at_level(logging.WARNING, logger="salience.video"):
        info = video.probe(two_streams)
    assert info.stream_index == 1
    [notice] = [r.getMessage() for r in caplog.records if "video streams" in r.getMessage()]
    assert "2 video streams" in notice and "#0:0 h264 96x64" in notice and "#0:1 h264 64x48 (default)" in notice
    assert "Using stream #0:1" in notice and "video_stream: <index>" in notice


def test_one_video_stream_needs_no_notice(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="salience.video"):
        video.probe(make_case("sar.mp4", tmp_path))
    assert not [r for r in caplog.records if "video streams" in r.getMessage()]


def test_a_chosen_stream_is_recorded_and_every_read_uses_it(two_streams, tmp_path):
    info = video.probe(two_streams, video_stream=0)
    assert (info.stream_index, info.width, info.height, info.frame_count) == (0, 96, 64, 14)
    record = tmp_path / "probe.json"
    record.write_text(json.dumps(info.to_dict()))
    again = video.load_probe(record)
    assert again == info
    reference = ffmpeg_rgb(two_streams, 0, 96, 64)
    assert np.array_equal(np.stack(list(video.read_frames(again))), reference)
    assert np.array_equal(np.stack(list(video.read_frames(again, 9, 14))), reference[9:])  # by seeking
    video.check_readable(two_streams, 0)


def test_records_from_before_the_choice_mean_the_first_video_stream(two_streams, tmp_path):
    record = video.probe(two_streams, video_stream=0).to_dict()
    del record["stream_index"]
    info = video.VideoInfo.from_dict(record)
    assert info.stream_index is None
    assert len(list(video.read_frames(info, 10))) == 4  # stream 0's 14 frames, not stream 1's


@pytest.mark.parametrize("choice, needle", [
    (2, "video_stream 2 is not a video stream of this file"),
    ("second", "video_stream must be auto or a stream index"),
])
def test_a_wrong_choice_names_the_streams_there_are(two_streams, choice, needle):
    for check in (lambda: video.check_readable(two_streams, choice),
                  lambda: video.probe(two_streams, video_stream=choice)):
        with pytest.raises(VideoError, match=needle) as error:
            check()
        if isinstance(choice, int):
            assert str(two_streams) in str(error.value) and "#0:0 h264 96x64; #0:1 h264 64x48" in str(error.value)


def write_config(workdir: Path, **overrides) -> None:
    write_run_config(workdir, {"videos": ["two_streams_small_default.mkv"], "weights": "untrained",
                               "chunk_frames": 7, "threads": 1}, **overrides)


@pytest.mark.slow
def test_video_stream_from_config_to_the_probe_record(two_streams, tmp_path):
    (tmp_path / "two_streams_small_default.mkv").write_bytes(Path(two_streams).read_bytes())
    probe_json = tmp_path / "results" / "two_streams_small_default" / "probe.json"
    write_config(tmp_path)
    snakemake(tmp_path, "--cores", "1", "--until", "probe_video")
    assert json.loads(probe_json.read_text())["stream_index"] == 1
    log = (tmp_path / "logs" / "two_streams_small_default" / "probe_video.log").read_text()
    assert "Using stream #0:1" in log and "video_stream: <index>" in log

    write_config(tmp_path, video_stream=0)  # another stream: probed again, from it
    snakemake(tmp_path, "--cores", "1", "--until", "probe_video")
    record = json.loads(probe_json.read_text())
    assert (record["stream_index"], record["width"], record["frame_count"]) == (0, 96, 14)

    write_config(tmp_path, video_stream=3)  # no such stream: stopped before any job
    result = snakemake(tmp_path, "--cores", "1", "--dry-run", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "two_streams_small_default.mkv: video_stream 3 is not a video stream" in output
    assert "Traceback" not in output
