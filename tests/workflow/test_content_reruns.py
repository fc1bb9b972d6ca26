"""Reruns decided by content: a configured file replaced by other content under its old
modification time (``cp -p``, a restored backup) reruns what depends on it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.snakemake import planned_jobs, snakemake, write_config
from helpers.videos import make_video

from salience.models import build_model

pytestmark = pytest.mark.slow


def replace_keeping_mtime(path: Path, other: Path) -> None:
    """``cp -p other path``: new content, the old file's modification time."""
    stat = path.stat()
    shutil.copyfile(other, path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.fixture(scope="module")
def mr_run(tmp_path_factory):
    """A finished run with a local checkpoint, center bias, gaze and AOI files."""
    workdir = tmp_path_factory.mktemp("content")
    make_video(workdir / "clip.mp4", frames=4, size="48x32", fps=10)
    model = build_model("deepgaze_mr")
    torch.save(model.state_dict(), workdir / "mine.pt")
    with torch.no_grad():
        next(iter(model.parameters())).add_(0.01)
    torch.save(model.state_dict(), workdir / "other.pt")
    np.save(workdir / "cb.npy", np.outer(np.hanning(8) + 0.1, np.hanning(12) + 0.1))
    np.save(workdir / "other_cb.npy", np.ones((8, 12)))
    (workdir / "gaze.csv").write_text("time,x,y\n0,10,10\n0.1,20,12\n0.2,30,14\n0.3,40,16\n")
    (workdir / "other_gaze.csv").write_text("time,x,y\n0,40,10\n0.1,30,12\n0.2,20,14\n0.3,10,16\n")
    (workdir / "aoi.csv").write_text("name,x0,y0,x1,y1\nleft,0,0,24,32\n")
    (workdir / "other_aoi.csv").write_text("name,x0,y0,x1,y1\nright,24,0,48,32\n")
    write_config(workdir, weights="mine.pt", center_bias="cb.npy", chunk_frames=4, export={},
                 gaze={"clip": "gaze.csv"}, aoi={"clip": "aoi.csv"}, pixels_per_degree=4)
    snakemake(workdir, "--cores", "2")
    assert planned_jobs(workdir) == {}
    return workdir


@pytest.mark.parametrize("name, other, reruns", [
    ("cb.npy", "other_cb.npy", {"download_weights", "predict_chunk", "assemble_zarr"}),
    ("mine.pt", "other.pt", {"download_weights", "predict_chunk", "assemble_zarr"}),
    ("aoi.csv", "other_aoi.csv", {"areas_of_interest"}),
    ("gaze.csv", "other_gaze.csv", {"evaluate_gaze", "areas_of_interest", "render_human", "snapshots"}),
])
def test_new_content_under_an_old_mtime_reruns_what_reads_it(mr_run, name, other, reruns):
    path = mr_run / name
    original = mr_run / f"original_{name}"
    shutil.copy2(path, original)
    try:
        replace_keeping_mtime(path, mr_run / other)
        jobs = planned_jobs(mr_run)
        assert reruns <= set(jobs), jobs
        if "predict_chunk" not in reruns:
            assert "predict_chunk" not in jobs and "download_weights" not in jobs, jobs
    finally:
        replace_keeping_mtime(path, original)
        original.unlink()
    assert planned_jobs(mr_run) == {}  # the recorded content again: nothing to redo


def test_a_fixation_history_with_bom_and_crlf_and_its_content(tmp_path):
    """DeepGaze III with a history exported by a spreadsheet; new content reruns prediction."""
    make_video(tmp_path / "clip.mp4", frames=2, size="64x64")
    history = tmp_path / "history.csv"
    history.write_bytes("\ufeffframe,x,y\r\n0,10,20\r\n1,30,40\r\n".encode())
    write_config(tmp_path, model="deepgaze_iii", fixation_history="history.csv", chunk_frames=2,
                 export={})
    snakemake(tmp_path, "--cores", "2", "results/clip/saliency.zarr")
    assert planned_jobs(tmp_path, "--cores", "1", "results/clip/saliency.zarr") == {}
    other = tmp_path / "other.csv"
    other.write_bytes("\ufeffframe,x,y\r\n0,50,20\r\n1,30,10\r\n".encode())
    replace_keeping_mtime(history, other)
    jobs = planned_jobs(tmp_path, "--cores", "1", "results/clip/saliency.zarr")
    assert jobs.get("predict_chunk") == 1 and "download_weights" not in jobs, jobs
