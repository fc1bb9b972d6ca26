"""The report's overlay snapshots show a video with non-square pixels at its display aspect."""

from __future__ import annotations

import cv2
import pytest
from helpers.snakemake import snakemake, write_config
from helpers.videos import ffmpeg

pytestmark = pytest.mark.slow


def test_snapshots_of_an_anamorphic_video_are_at_display_aspect(tmp_path):
    # 64x48 stored, pixels 4:3 wide: shown as 85x48 (as the heatmap and overlay videos are, by their SAR), so
    # its snapshots have the shape of those of a square-pixel 85x48 video (they were squeezed to 64x48)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "4", "-vf", "setsar=4/3",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", str(tmp_path / "wide.mp4"))
    for size in ("85x48", "64x48"):
        ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-frames:v", "4",
               "-c:v", "libx264", "-pix_fmt", "yuv420p", str(tmp_path / f"square{size}.mp4"))
    write_config(tmp_path, videos=["wide.mp4", "square85x48.mp4", "square64x48.mp4"], chunk_frames=4, export={})
    snakemake(tmp_path, "--cores", "2", *(f"results/{v}/snapshots" for v in ("wide", "square85x48", "square64x48")))

    def height(video):  # the figure is cropped to its contents: titles of other lengths move it a few pixels
        pictures = sorted((tmp_path / "results" / video / "snapshots").glob("*.png"))
        assert pictures, video
        return max(cv2.imread(str(p)).shape[0] for p in pictures)

    wide, square, squeezed = height("wide"), height("square85x48"), height("square64x48")
    assert abs(wide - square) <= 8 and squeezed - square > 50, (wide, square, squeezed)
