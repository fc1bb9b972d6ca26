"""A render segment killed, then the segments planned anew: no temporaries stay in segments/."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from helpers.snakemake import planned_jobs, snakemake, write_config
from helpers.videos import make_video

pytestmark = pytest.mark.slow

# A writer that claims its temporary beside a segment video, as the H.264
# writer does, and dies by SIGKILL: the kernel drops its lock, the file stays.
KILLED_WRITER = """
import os, signal, sys
from salience.atomic import unused_sibling
print(unused_sibling(sys.argv[1], sys.argv[2], ".partial.mp4"), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def leftover_of_a_killed_writer(directory, name) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(directory), name],
                            capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL
    path = result.stdout.strip()
    assert os.path.exists(path)
    return path


def test_temporaries_of_killed_segments_go_when_the_plan_changes(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=8, size="48x32")
    write_config(tmp_path, chunk_frames=4, export={})
    segments = tmp_path / "results" / "clip" / "segments"
    leftovers = [leftover_of_a_killed_writer(segments / kind, "0000000-0000004.mp4")
                 for kind in ("heatmap", "overlay")]
    # the next run plans other segments: no writer of the killed one's name comes
    write_config(tmp_path, chunk_frames=4, export={}, render={"segment_frames": 2})
    snakemake(tmp_path, "--cores", "2")
    assert planned_jobs(tmp_path) == {}
    assert not any(os.path.exists(path) for path in leftovers)
    assert not [p for p in tmp_path.rglob("*partial*")]
