"""The report's overlay snapshots show a video with non-square pixels at its display aspect."""

from __future__ import annotations

import cv2
import pytest
from helpers.snakemake import snakemake, write_config
from helpers.videos import ffmpeg

pytestmark = pytest.mark.slow


def test_snapshots_of_an_anamorphic_video_are_at_display_aspect(tmp_path):
    # 64x48 stored, pixels 4:3 wide: shown as 85x48 (as the heatmap and overlay videos are, by their SAR)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "4", "-vf", "setsar=4/3",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", str(tmp_path / "clip.mp4"))
    write_config(tmp_path, chunk_frames=4, export={})
    snakemake(tmp_path, "--cores", "2", "results/clip/snapshots")
    pictures = sorted((tmp_path / "results" / "clip" / "snapshots").glob("*.png"))
    assert pictures
    for picture in pictures:
        height, width = cv2.imread(str(picture)).shape[:2]
        assert (width, height) == (85, 48), picture
