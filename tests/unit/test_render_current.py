"""Whether a render is current, and which store a segment job reads (salience.rendering.current)."""

from __future__ import annotations

import re

import pytest

from salience import plan
from salience.frames import NAME_PATTERN, FrameRange
from salience.rendering import current

RENDER = {"colormap": "inferno", "normalization": "frame", "opacity": 0.5, "crf": 18, "preset": "medium",
          "segment_frames": None, "aoi_outlines": False, "audio": True, "threads": 2}


def finished(results, target="videos", settings=None):
    """The outputs of ``target`` and their record, as a join leaves them."""
    for name in current.OUTPUTS[target]:
        (results / name).write_text("")
    (results / "rendered").mkdir(exist_ok=True)
    record = settings if settings is not None else current.render_settings(RENDER, target)
    (results / "rendered" / f"{target}.json").write_text(current.record_text(record) + "\n")


def test_settings_hold_only_what_shapes_the_target():
    assert "threads" not in current.render_settings(RENDER, "videos")
    assert current.render_settings(RENDER, "npy") == {"segment_frames": None}
    assert set(current.render_settings(RENDER, "png")) == {"colormap", "normalization", "segment_frames"}


def test_the_aoi_file_content_is_part_of_the_video_settings(tmp_path):
    aoi = tmp_path / "aoi.csv"
    aoi.write_text("name,x0,y0,x1,y1\na,0,0,4,4\n")
    before = current.render_settings(RENDER, "videos", aoi)
    aoi.write_text("name,x0,y0,x1,y1\na,0,0,5,4\n")
    assert before["aoi_sha256"] != current.render_settings(RENDER, "videos", aoi)["aoi_sha256"]
    assert "aoi_sha256" not in current.render_settings(RENDER, "png", aoi)


def test_current_needs_every_output_and_the_same_settings(tmp_path):
    settings = current.render_settings(RENDER, "videos")
    assert not current.is_current(tmp_path, "videos", settings)
    finished(tmp_path)
    assert current.is_current(tmp_path, "videos", settings)
    assert not current.is_current(tmp_path, "videos", {**settings, "opacity": 0.8})
    (tmp_path / "overlay.mp4").unlink()
    assert not current.is_current(tmp_path, "videos", settings)


def test_an_unreadable_record_is_not_current(tmp_path):
    finished(tmp_path)
    (tmp_path / "rendered" / "videos.json").write_text("{half a record")
    assert not current.is_current(tmp_path, "videos", current.render_settings(RENDER, "videos"))


@pytest.mark.parametrize("chunk_exists, assembled_exists, is_current, expected", [
    (True, False, False, "chunk"),  # during a run: as soon as the chunk is predicted
    (True, True, False, "chunk"),
    (False, False, False, "chunk"),  # nothing yet: the chunk, which prediction makes
    (False, True, True, "chunk"),  # finished and current: the input set stays as it was
    (False, True, False, "assembled"),  # a re-render after a finished run: no re-prediction
])
def test_maps_source(tmp_path, chunk_exists, assembled_exists, is_current, expected):
    paths = {"chunk": tmp_path / "chunks" / "0000000-0000007.zarr", "assembled": tmp_path / "saliency.zarr"}
    for name, exists in (("chunk", chunk_exists), ("assembled", assembled_exists)):
        if exists:
            paths[name].mkdir(parents=True)
    asked = []

    def current_now():
        asked.append(1)
        return is_current

    assert current.maps_source(paths["chunk"], paths["assembled"], current_now) == str(paths[expected])
    assert bool(asked) == (not chunk_exists and assembled_exists)  # the record is read only when it decides


@pytest.mark.parametrize("read, finished, is_current, expected", [
    ("chunk", True, False, "chunk"),  # rendered before its chunk was assembled and removed: not again
    ("assembled", True, False, "assembled"),  # a re-render stopped before its join
    ("chunk", False, True, "chunk"),  # joined, current: as it ran in the first run
    ("assembled", False, True, "assembled"),  # joined, current, after a re-render: as it ran then
    (None, False, True, "chunk"),  # no record (an older run), current
    ("chunk", False, False, "assembled"),  # it runs anyway (new settings): never re-predict
    (None, True, False, "assembled"),
])
def test_maps_source_keeps_what_a_job_read(tmp_path, read, finished, is_current, expected):
    paths = {"chunk": tmp_path / "chunks" / "0000000-0000007.zarr", "assembled": tmp_path / "saliency.zarr"}
    paths["assembled"].mkdir()  # the chunk is gone: what it read decides
    read_before = [tmp_path / "probe.json"] + ([paths[read]] if read else [])
    chosen = current.maps_source(paths["chunk"], paths["assembled"], lambda: is_current, read_before, finished)
    assert chosen == str(paths[expected])


def test_peak_sources_keep_what_the_peak_was_computed_from(tmp_path):
    chunks = [tmp_path / "chunks" / f"{i:07d}-{i + 4:07d}.zarr" for i in (0, 4)]
    assembled = tmp_path / "saliency.zarr"
    names = [str(c) for c in chunks]
    assert current.peak_sources(chunks, assembled, lambda: False) == names  # nothing yet
    assembled.mkdir()
    chunks[1].mkdir(parents=True)
    assert current.peak_sources(chunks, assembled, lambda: False, finished=True) == names  # a chunk left
    chunks[1].rmdir()
    assert current.peak_sources(chunks, assembled, lambda: True, names, finished=True) == names
    assert current.peak_sources(chunks, assembled, lambda: True, [assembled], finished=True) == [str(assembled)]
    assert current.peak_sources(chunks, assembled, lambda: True, names) == [str(assembled)]  # to compute
    assert current.peak_sources(chunks, assembled, lambda: False, (), finished=True) == [str(assembled)]


def test_one_name_format_for_chunks_and_segments():
    video = plan.plan_video(650, 300, 16, 120)
    for frame_range in video.chunks + video.segments:
        assert re.fullmatch(NAME_PATTERN, frame_range.name)
        assert FrameRange.parse(frame_range.name) == FrameRange(frame_range.start, frame_range.stop)
    assert plan.chunk_named(video.chunks[1].name, 16) == video.chunks[1] == FrameRange(300, 600, 15)
    assert all(video.chunk_of(s).contains(s) for s in video.segments)
    with pytest.raises(ValueError, match="SSSSSSS-EEEEEEE"):
        FrameRange.parse("300-600")
