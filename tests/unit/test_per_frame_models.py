"""DeepGaze IIE / III inside the streaming engine: chunks, scale, fixation history."""

import numpy as np
import pytest
import torch
from helpers.videos import make_video

from salience.predict import configure_model_options
from salience.errors import ConfigError
from salience.models import build_model
from salience.models.per_frame import FixationHistory
from salience.predict import iter_log_density, predict_range
from salience.video import read_frames

FRAMES, SIZE = 4, "128x96"


@pytest.fixture(scope="module")
def iii():
    return build_model("deepgaze_iii")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("v") / "clip.mp4", frames=FRAMES, size=SIZE)


def predict(model, clip, **options):
    results = list(iter_log_density(model, read_frames(clip), device="cpu", **options))
    assert [i for i, _ in results] == list(range(FRAMES))
    return np.stack([m for _, m in results])


def normalized(maps):
    return np.log(np.exp(maps.astype(np.float64)).sum(axis=(1, 2)))


def test_chunks_and_batches_do_not_change_the_maps(iii, clip):
    whole = predict(iii, clip, batch_size=4)
    assert whole.shape == (FRAMES, 96, 128) and np.isfinite(whole).all()
    np.testing.assert_allclose(normalized(whole), 0, atol=1e-4)
    pieces = [m for start in range(FRAMES)
              for _, m in predict_range(iii, clip, start, start + 1, device="cpu")]
    np.testing.assert_allclose(np.stack(pieces), whole, atol=1e-5, rtol=0)


def test_scale_predicts_smaller_and_returns_full_size(iii, clip):
    configure_model_options(iii, "deepgaze_iii", 0.75, "center")  # smaller stops DenseNet's pooling
    try:
        half = predict(iii, clip, batch_size=2)
    finally:
        configure_model_options(iii, "deepgaze_iii", 1.0, "center")
    assert half.shape == (FRAMES, 96, 128)
    np.testing.assert_allclose(normalized(half), 0, atol=1e-4)
    assert not np.allclose(half, predict(iii, clip, batch_size=2), atol=1e-3)


def test_fixation_history_from_a_gaze_file(tmp_path, iii, clip):
    gaze = tmp_path / "gaze.csv"
    gaze.write_text("frame,x,y\n0,10,20\n1,30,40\n2,50,60\n")
    history = FixationHistory(str(gaze))
    x, y = history(first_index=2, count=2, height=96, width=128)
    # frame 2 looked back at frames 1, 0 and two missing ones; frame 3 at 2, 1, 0, missing
    np.testing.assert_array_equal(x[0, :2], [30, 10])
    np.testing.assert_array_equal(y[1, :3], [60, 40, 20])
    assert torch.isnan(x[0, 2:]).all() and torch.isnan(x[1, 3])
    centered = FixationHistory("center")(0, 1, 96, 128, scale=0.5)
    assert centered[0].tolist() == [[32.0] * 4] and centered[1].tolist() == [[24.0] * 4]

    configure_model_options(iii, "deepgaze_iii", 1.0, str(gaze))
    try:
        with_gaze = predict(iii, clip)
    finally:
        configure_model_options(iii, "deepgaze_iii", 1.0, "center")
    assert np.isfinite(with_gaze).all()
    assert not np.allclose(with_gaze, predict(iii, clip), atol=1e-4)  # the history matters


def test_bad_gaze_files_and_scales_are_refused(tmp_path, iii):
    with pytest.raises(ConfigError, match="does not exist"):
        FixationHistory(str(tmp_path / "none.csv"))
    (tmp_path / "cols.csv").write_text("t,gx,gy\n0,1,2\n")
    with pytest.raises(ConfigError, match="columns needed: frame, x, y"):
        FixationHistory(str(tmp_path / "cols.csv"))
    (tmp_path / "text.csv").write_text("frame,x,y\n0,left,2\n")
    with pytest.raises(ConfigError, match="line 2"):
        FixationHistory(str(tmp_path / "text.csv"))
    with pytest.raises(ConfigError, match="scale"):
        configure_model_options(build_model("deepgaze_mr"), "deepgaze_mr", 0.5, "center")
    with pytest.raises(ConfigError, match="scale"):
        configure_model_options(iii, "deepgaze_iii", 0.0, "center")
