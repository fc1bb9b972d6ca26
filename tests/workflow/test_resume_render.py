"""Resuming a render: a segment finished before the run stopped is not rendered again.

The state a kill leaves on a busy machine, made deterministically: segment 0
rendered from its chunk's store, saliency.zarr assembled after it, and that
chunk's store removed (Snakemake removes a temporary store once all its
readers are done). Before, the next run planned segment 0 again ("Updated
input files: results/clip/saliency.zarr").
"""

from __future__ import annotations

import shutil
import time

import pytest
from helpers.snakemake import planned_jobs, snakemake, write_config
from helpers.videos import decoded, ffmpeg_errors, make_video

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("normalization", ["frame", "global"])
def test_a_segment_rendered_before_assembly_is_not_rendered_again(tmp_path, normalization):
    make_video(tmp_path / "clip.mp4", frames=12, size="48x32", audio=True)
    write_config(tmp_path, chunk_frames=4, export={}, render={"normalization": normalization})
    results = tmp_path / "results" / "clip"
    first = [f"results/clip/segments/{kind}/0000000-0000004.mp4" for kind in ("heatmap", "overlay")]
    snakemake(tmp_path, "--cores", "1", "--notemp", *first)
    time.sleep(1.1)  # file times: the store is assembled after the segment was rendered
    snakemake(tmp_path, "--cores", "1", "--notemp", "results/clip/saliency.zarr")
    shutil.rmtree(results / "chunks" / "0000000-0000004.zarr")  # read by assembly and segment 0: done
    log = tmp_path / "logs" / "clip" / "render_segment" / "0000000-0000004.log"
    rendered = log.stat().st_mtime_ns

    jobs = planned_jobs(tmp_path)
    assert jobs.get("render_segment") == 2, jobs  # not segment 0
    assert "predict_chunk" not in jobs and "density_peak" not in jobs, jobs
    snakemake(tmp_path, "--cores", "2")
    assert log.stat().st_mtime_ns == rendered
    heatmap = results / "heatmap.mp4"
    assert ffmpeg_errors(heatmap) == ""
    frames, audio = decoded(heatmap)
    assert len(frames) == 12 and audio == pytest.approx(12 / 25, abs=0.05)
    assert planned_jobs(tmp_path) == {}


def test_a_rerender_is_current_afterwards(tmp_path):
    """After a re-render (new settings, the chunk stores long gone) nothing is redone, nor predicted."""
    make_video(tmp_path / "clip.mp4", frames=8, size="48x32")
    write_config(tmp_path, chunk_frames=4, export={"png": True})
    snakemake(tmp_path, "--cores", "2")
    write_config(tmp_path, chunk_frames=4, export={"png": True}, render={"opacity": 0.8, "colormap": "viridis"})
    jobs = planned_jobs(tmp_path)
    assert jobs.get("render_segment") == 2 and "predict_chunk" not in jobs, jobs
    snakemake(tmp_path, "--cores", "2")
    assert planned_jobs(tmp_path) == {}
