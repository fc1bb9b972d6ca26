"""The real workflow on videos with the names users give them (tiny clips, untrained weights)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from helpers.snakemake import planned_jobs, snakemake, write_config
from helpers.videos import make_video

pytestmark = pytest.mark.slow

# Each was refused, collided or wrote outside results/ before.
NAMES = {
    "...mp4": "video",  # not '..': its outputs stay under results/
    "clip {x}.mp4": "clip_x",  # braces: Snakemake reads them as wildcards
    "[P01] trial.mp4": "P01_trial",  # brackets: a glob character class
    "запись.mp4": "запись",  # two non-Latin names: distinct
    "日本.mp4": "日本",
    "weights.mp4": None,  # results/weights/ holds the weights record: a suffixed id
}


@pytest.fixture(scope="module")
def named_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("names")
    for name in NAMES:
        make_video(workdir / name, frames=4, size="48x32")
    write_config(workdir, videos=list(NAMES), chunk_frames=4, export={})
    snakemake(workdir, "--cores", "2")
    return workdir


def test_every_name_gets_its_own_complete_results(named_run):
    results = named_run / "results"
    folders = {p.name for p in results.iterdir()}
    for name, vid in NAMES.items():
        if vid is None:
            (vid,) = [f for f in folders if f.startswith("weights-")]
        for output in ("saliency.zarr", "heatmap.mp4", "overlay.mp4", "probe.json", "snapshots"):
            assert (results / vid / output).exists(), (name, vid, output)
    assert (results / "weights" / "deepgaze_mr.json").is_file()
    assert len(folders - {"weights", "overview.html"}) == len(NAMES)  # one folder a video, + the weights, the overview
    assert (results / "overview.html").is_file()
    # nothing written beside the project's own files ('..' would have put them there)
    assert {p.name for p in named_run.iterdir()} == {*NAMES, "config.yaml", "results", "logs", ".snakemake"}


def test_a_glob_over_everything_does_not_take_the_outputs(named_run):
    assert planned_jobs(named_run, "--config", 'videos=["**/*.mp4", "...mp4"]') == {}


def test_report_and_unlock_after_the_videos_moved_away(named_run, tmp_path):
    workdir = tmp_path / "moved"
    shutil.copytree(named_run, workdir, symlinks=True)
    away = tmp_path / "archive"
    away.mkdir()
    moved = ("clip {x}.mp4", "日本.mp4", "[P01] trial.mp4")
    for name in moved:
        shutil.move(workdir / name, away / name)
    result = snakemake(workdir, "--unlock")
    assert "is gone" in result.stderr and "clip {x}.mp4" in result.stderr
    snakemake(workdir, "--report", "report.html")
    report = (workdir / "report.html").read_text()
    for vid in ("clip_x", "日本", "P01_trial"):  # the moved videos' results are in it (ids JSON-escaped)
        assert f"video={json.dumps(vid)[1:-1]}" in report or f"video={vid}" in report, vid
    # A run needs the videos: it stops naming the one that is gone.
    run = snakemake(workdir, "--dry-run", check=False)
    assert run.returncode != 0 and "日本.mp4" in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    write_config(workdir, **{**config, "videos": [n for n in NAMES if n not in moved]})
    assert planned_jobs(workdir) == {"overview": 1, "all": 1}  # only the page that lists every video is redone
