"""Human heatmap and model-vs-human videos: where the gaze is, they are bright; timing and audio kept."""

from __future__ import annotations

import numpy as np
from helpers.stores import make_store, normalized
from helpers.videos import decode_all, frame_times, make_video, stream_info

from salience.evaluation.human_video import render_human_videos
from salience.video import probe


def test_human_heatmap_is_bright_where_people_looked(tmp_path):
    frames, width, height = 6, 64, 48
    make_video(tmp_path / "clip.mp4", frames=frames, size=f"{width}x{height}", fps=10, audio=True)
    yy, xx = np.mgrid[0:height, 0:width]
    blob = normalized(-((xx - 16.0) ** 2 + (yy - 30.0) ** 2) / 50.0)  # the model looks at (16, 30)
    store = make_store(tmp_path / "saliency.zarr", np.repeat(blob[None], frames, 0).astype(np.float32), fps=10)
    gaze = tmp_path / "gaze.csv"
    gaze.write_text("time,x,y\n0.2,40.5,10.5\n0.25,41,10\n")  # both on frame 2
    heatmap, pair = tmp_path / "human_heatmap.mp4", tmp_path / "model_vs_human.mp4"
    render_human_videos(store, probe(tmp_path / "clip.mp4"), gaze, human_heatmap=heatmap, model_vs_human=pair,
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
    source_times = np.array(frame_times(tmp_path / "clip.mp4"))
    for path in (heatmap, pair):
        assert "Audio: aac" in stream_info(path)
        # the source's timing (its timeline shifted to start at 0 with the audio)
        times = np.array(frame_times(path))
        np.testing.assert_allclose(np.diff(times), np.diff(source_times), atol=1e-3)


def test_snapshots_spread_over_the_video(tmp_path):
    import cv2

    from salience.evaluation.snapshots import snapshot_frames, write_snapshots

    assert snapshot_frames(100, 4) == [0, 33, 66, 99] and snapshot_frames(2, 4) == [0, 1]
    make_video(tmp_path / "clip.mp4", frames=9, size="32x24", fps=10)
    maps = np.repeat(normalized(np.zeros((24, 32)))[None], 9, 0).astype(np.float32)
    store = make_store(tmp_path / "saliency.zarr", maps, fps=10)
    gaze = tmp_path / "gaze.csv"
    gaze.write_text("frame,x,y\n4,3,3\n")
    write_snapshots(store, probe(tmp_path / "clip.mp4"), tmp_path / "snaps", gaze_path=gaze, pixels_per_degree=3)
    names = sorted(p.name for p in (tmp_path / "snaps").iterdir())
    assert names == ["frame_000000.png", "frame_000003.png", "frame_000005.png", "frame_000008.png"]
    pair = cv2.imread(str(tmp_path / "snaps" / names[1]))  # model | human, titled, a colour bar
    write_snapshots(store, probe(tmp_path / "clip.mp4"), tmp_path / "alone")
    alone = cv2.imread(str(tmp_path / "alone" / names[1]))  # the model only
    assert pair.shape[0] == alone.shape[0] and pair.shape[1] > 1.6 * alone.shape[1] > 400
