"""Valid settings that failed late: DeepGaze MR's "skip" head with global normalization."""

from __future__ import annotations

import pytest
from helpers.snakemake import snakemake, write_config
from helpers.videos import make_video

pytestmark = pytest.mark.slow

SIZE = "48x32"


def test_head_skip_with_global_normalization_on_short_chunks(tmp_path):
    """The first chunk (<= 15 frames) holds no finite map: the video's peak comes from the others."""
    make_video(tmp_path / "clip.mp4", frames=20, size=SIZE)
    write_config(tmp_path, head="skip", chunk_frames=10, render={"normalization": "global"}, export={"png": True})
    snakemake(tmp_path, "--cores", "2")
    assert (tmp_path / "results" / "clip" / "heatmap.mp4").is_file()
    assert len(list((tmp_path / "results" / "clip" / "heatmap_png").glob("*.png"))) == 20
