"""The real Snakemake workflow renders in segment jobs: a killed one is redone alone."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from helpers.snakemake import command, planned_jobs, snakemake, write_config
from helpers.videos import decoded, ffmpeg_errors, make_video

pytestmark = pytest.mark.slow


def test_killed_segment_job_is_redone_alone(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=12, size="48x32", audio=True)
    write_config(tmp_path, chunk_frames=4, export={})  # 3 chunks, 3 segments
    logs = tmp_path / "logs" / "clip" / "render_segment"
    parts = tmp_path / "results" / "clip" / "segments" / "heatmap"
    process = subprocess.Popen(command(tmp_path, "--cores", "1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # one segment done, the next one under way
            done = list(parts.glob("*.mp4")) if parts.exists() else []
            started = list(logs.glob("*.log")) if logs.exists() else []
            if done and len(started) > len(done):
                break
            time.sleep(0.05)
        else:
            pytest.fail("no segment job was caught running")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    finished = {p.stem for p in parts.glob("*.mp4")}
    killed = {p.stem for p in logs.glob("*.log")} - finished
    assert finished and killed
    logged = {name: (logs / f"{name}.log").stat().st_mtime_ns for name in finished}
    assert not (tmp_path / "results" / "clip" / "heatmap.mp4").exists()

    snakemake(tmp_path, "--unlock")
    assert planned_jobs(tmp_path)["render_segment"] == 3 - len(finished)
    snakemake(tmp_path, "--cores", "2")
    for name in finished:  # not rendered again
        assert (logs / f"{name}.log").stat().st_mtime_ns == logged[name]
    for name in killed:
        assert (logs / f"{name}.log").stat().st_mtime_ns > max(logged.values())
    heatmap = tmp_path / "results" / "clip" / "heatmap.mp4"
    assert ffmpeg_errors(heatmap) == ""
    frames, audio = decoded(heatmap)
    assert len(frames) == 12 and audio == pytest.approx(12 / 25, abs=0.05)
    assert not list(parts.glob("*.mp4")) and not list(tmp_path.rglob("*partial*"))
    assert planned_jobs(tmp_path) == {}
