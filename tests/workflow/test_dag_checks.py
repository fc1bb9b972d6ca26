"""Config mistakes stop the dry run when the DAG is built, in one line naming the key and the fix;
valid settings that failed late now run."""

from __future__ import annotations

import re

import pytest
from helpers.snakemake import planned_jobs, snakemake, write_config
from helpers.videos import make_video

pytestmark = pytest.mark.slow

SIZE = "48x32"


def dry_run_refuses(workdir, *needles):
    result = snakemake(workdir, "--dry-run", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for needle in needles:
        assert needle in output, output
    assert "Traceback" not in output, output
    assert "Job stats" not in output, output  # stopped before any job was planned
    return output


@pytest.mark.parametrize("render, needles", [
    ({"colormap": "infernoo"}, ("render: colormap", "'infernoo'", "matplotlib")),
    ({"preset": "quick"}, ("quick", "preset")),  # the schema's list of x264 presets
])
def test_render_settings_are_checked_before_any_job(tmp_path, render, needles):
    make_video(tmp_path / "clip.mp4", frames=4, size=SIZE)
    write_config(tmp_path, render=render)
    dry_run_refuses(tmp_path, *needles)


def test_a_video_too_small_for_deepgaze_iii_at_the_scale(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=2, size="128x96")
    write_config(tmp_path, model="deepgaze_iii", scale=0.25)
    dry_run_refuses(tmp_path, "clip.mp4", "deepgaze_iii needs frames of at least 58 px",
                    "raise 'scale' to at least 0.61")
    write_config(tmp_path, model="deepgaze_iii", scale=0.61)
    assert planned_jobs(tmp_path)["probe_video"] == 1


def test_a_huge_batch_size_asks_for_the_memory_of_a_chunk(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=4, size="96x64")
    write_config(tmp_path, batch_size=100000, chunk_frames=4, export={})
    snakemake(tmp_path, "--cores", "1", "--until", "probe_video")
    output = snakemake(tmp_path, "--dry-run", "--until", "predict_chunk").stdout
    asked = [int(m) for m in re.findall(r"mem_mb=(\d+)", output.split("rule predict_chunk")[1])]
    assert asked and max(asked) < 4000, asked  # not 353,611 MB for 96x64 frames


def test_a_batch_no_gpu_holds_is_refused(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=2, size="1920x1080")
    write_config(tmp_path, batch_size=100000, chunk_frames=300)  # 315 frames of 1.1 GB a batch
    dry_run_refuses(tmp_path, "config 'batch_size'", "1920x1080", "lower batch_size")


def test_a_gaze_pattern_that_matches_no_file_says_so(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=4, size=SIZE)
    write_config(tmp_path, gaze="gaze/{video}.csv", pixels_per_degree=4)
    result = snakemake(tmp_path, "--dry-run")
    output = result.stdout + result.stderr
    assert "config 'gaze'" in output and "gaze/clip.csv" in output and "matches no file" in output, output


def test_gaze_pointed_at_a_secret_file_is_refused_without_echoing_it(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=4, size=SIZE)
    shadow = tmp_path / "shadow"
    shadow.write_text("root:$6$kq1Vd0Hs$SECRETHASH:19700:0:99999:7:::\n")
    write_config(tmp_path, gaze={"clip": str(shadow)}, aoi={"clip": str(shadow)}, pixels_per_degree=4)
    output = dry_run_refuses(tmp_path, str(shadow), "right file")
    assert "SECRETHASH" not in output and "$6$" not in output
