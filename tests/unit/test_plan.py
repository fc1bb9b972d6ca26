"""Run planning: video ids, globs, probe records, resource estimates."""

import json

import pytest
from helpers.videos import make_video

from salience import plan
from salience.frames import FrameRange
from salience.errors import VideoError


def test_video_ids_are_file_stems_made_safe():
    assert plan.video_id("/data/Game Play #3.mp4") == "Game_Play_3"
    assert plan.video_id("clip.v2.mkv") == "clip.v2"


def test_find_videos_globs_and_tells_namesakes_apart(tmp_path):
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.mkv").write_bytes(b"")
    found = plan.find_videos(["*.mp4"], base=tmp_path)
    assert sorted(found) == ["a", "b"]
    found = plan.find_videos(["*.mp4", "sub/a.mkv"], base=tmp_path)
    assert len(found) == 3 and "b" in found and "a" not in found  # both a's get a suffix
    with pytest.raises(VideoError, match="matches no file"):
        plan.find_videos(["*.avi"], base=tmp_path)
    with pytest.raises(VideoError, match="does not exist"):
        plan.find_videos(["c.mp4"], base=tmp_path)


def test_probe_records_load_and_stale_ones_are_refused(tmp_path):
    from salience import video

    clip = make_video(tmp_path / "clip.ts", frames=6)
    record = tmp_path / "probe.json"
    record.write_text(json.dumps(video.probe(clip).to_dict()))
    assert video.load_probe(record).frame_count == 6
    record.write_text(json.dumps({"frame_count": 6, "fps": 25.0}))  # written by an older version
    with pytest.raises(VideoError, match="probe the video anew"):
        video.load_probe(record)


def test_resource_estimates_grow_with_work():
    small, large = FrameRange(0, 100, 0), FrameRange(100, 1100, 15)
    assert plan.chunk_runtime_minutes(large, 1920, 1080, "deepgaze_mr") > \
        plan.chunk_runtime_minutes(small, 1920, 1080, "deepgaze_mr") >= 10
    assert plan.chunk_mem_mb(3840, 2160, 4) > plan.chunk_mem_mb(1280, 720, 4) > 2048
