"""Human heatmap and model-vs-human videos: where the gaze is, they are bright; timing and audio kept."""

from __future__ import annotations

import numpy as np
from stores import make_store, normalized
from videos import decode_all, make_video, stream_info

from salience.human_video import render_human_videos


def test_human_heatmap_is_bright_where_people_looked(tmp_path):
    frames, width, height = 6, 64, 48
    make_video(tmp_path / "clip.mp4", frames=frames, size=f"{width}x{height}", fps=10, audio=True)
    yy, xx = np.mgrid[0:height, 0:width]
    blob = normalized(-((xx - 16.0) ** 2 + (yy - 30.0) ** 2) / 50.0)  # the model looks at (16, 30)
    store = make_store(tmp_path / "saliency.zarr", np.repeat(blob[None], frames, 0).astype(np.float32), fps=10)
    gaze = tmp_path / "gaze.csv"
    gaze.write_text("time,x,y\n0.2,40.5,10.5\n0.25,41,10\n")  # both on frame 2
    heatmap, pair = tmp_path / "human_heatmap.mp4", tmp_path / "model_vs_human.mp4"
    render_human_videos(store, tmp_path / "clip.mp4", gaze, human_heatmap=heatmap, model_vs_human=pair,
                        pixels_per_degree=6.0)
    human = decode_all(heatmap)
    assert len(human) == frames and human[0].shape == (height, width, 3)
    brightness = human[2].astype(int).sum(axis=2)
    y, x = np.unravel_index(np.argmax(brightness), brightness.shape)
    assert abs(x - 40.5) <= 2 and abs(y - 10.5) <= 2
    assert human[0].max() < 40  # no gaze: the colormap's darkest colour (inferno: black)
    sides = decode_all(pair)
    assert len(sides) == frames and sides[2].shape == (height, 2 * width, 3)
    left, right = sides[2][:, :width].astype(int), sides[2][:, width:].astype(int)
    diff = np.abs(left - right).sum(axis=2)
    assert diff[30, 16] > 60 and diff[10, 40] > 60  # model's spot on the left, people's on the right
    for path in (heatmap, pair):
        assert "Audio: aac" in stream_info(path)
