"""DeepGaze MR port: checkpoint layout, fixture equivalence, streaming policies."""

import numpy as np
import pytest
import torch
from helpers.recipe import manifest

from salience.errors import WeightsError
from salience.models import build_model
from salience.predict import iter_log_density

TOLERANCE = 1e-4  # the fixtures' bound for a faithful port (float32 rounding)


def frames_of(mr_fixture):
    return list(mr_fixture["frames"])


def test_state_dict_matches_the_official_checkpoint_layout(mr_fixture):
    mr_model = build_model("deepgaze_mr")
    ours = {k: tuple(v.shape) for k, v in mr_model.state_dict().items()}
    assert ours == manifest(mr_fixture)


def test_official_checkpoint_format_loads_strictly(tmp_path, mr_model):
    path = tmp_path / "deepgazemr-ledov.pt"
    torch.save({"model_state_dict": mr_model.state_dict(), "epoch": 3}, path)
    loaded = build_model("deepgaze_mr", weights=path)
    for key, value in mr_model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key

    state = dict(mr_model.state_dict())
    del state["readout.conv3.bias"]
    torch.save({"model_state_dict": state}, path)
    with pytest.raises(WeightsError, match=r"readout\.conv3\.bias"):
        build_model("deepgaze_mr", weights=path)


def test_forward_reproduces_reference_windows(mr_fixture, mr_model):
    clip = torch.from_numpy(mr_fixture["frames"]).permute(0, 3, 1, 2).float() / 255.0
    center_bias = torch.from_numpy(mr_fixture["center_bias"])
    with torch.inference_mode():
        for i in (15, 23):
            out = mr_model(clip[i - 15 : i + 1], center_bias=center_bias).numpy()
            np.testing.assert_allclose(out, mr_fixture["expected"][i], atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("head", ["partial", "pad", "skip"])
@pytest.mark.parametrize("batch_size", [1, 5, 24])
def test_streaming_reproduces_reference(mr_fixture, mr_model, head, batch_size):
    results = list(
        iter_log_density(mr_model, frames_of(mr_fixture), center_bias=mr_fixture["center_bias"],
                         head=head, batch_size=batch_size, device="cpu")
    )
    assert [i for i, _ in results] == list(range(24))
    out = np.stack([m for _, m in results])
    assert out.dtype == np.float32 and out.shape == (24, 64, 96)
    np.testing.assert_allclose(out[15:], mr_fixture["expected"][15:], atol=TOLERANCE, rtol=0)
    if head == "skip":
        assert np.isnan(out[:15]).all()
    else:
        reference = mr_fixture["head_partial"] if head == "partial" else mr_fixture["head_pad"]
        np.testing.assert_allclose(out[:15], reference, atol=TOLERANCE, rtol=0)
        # every map is a normalized log-density
        np.testing.assert_allclose(np.logaddexp.reduce(out.reshape(24, -1), axis=1), 0, atol=1e-5)


def test_warm_up_start_inside_video_matches_sequential(mr_fixture, mr_model):
    frames = frames_of(mr_fixture)
    sequential = dict(iter_log_density(mr_model, frames, center_bias=mr_fixture["center_bias"], batch_size=3))
    # frames from 2 on, emitting from 17: the window of 17 is frames 2..17
    late = dict(iter_log_density(mr_model, frames[2:], center_bias=mr_fixture["center_bias"],
                                 batch_size=4, start_index=2, emit_from=17))
    assert sorted(late) == list(range(17, 24))
    for i, out in late.items():
        np.testing.assert_allclose(out, sequential[i], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="warm-up"):
        list(iter_log_density(mr_model, frames[2:], start_index=2, emit_from=10))


def test_center_bias_is_resized_and_renormalized(mr_model):
    cb = np.ones((4, 6), np.float32)
    cb[1:3, 2:4] = 5.0
    cb /= cb.sum()
    log_cb = mr_model.log_center_bias(64, 96, torch.from_numpy(cb))
    assert log_cb.shape == (64, 96)
    assert torch.logsumexp(log_cb.flatten(), 0).item() == pytest.approx(0.0, abs=1e-5)
    assert log_cb[32, 48] > log_cb[0, 0]
    uniform = mr_model.log_center_bias(64, 96)
    assert torch.allclose(uniform, torch.full((64, 96), -np.log(64 * 96)))


def test_bad_arguments_are_refused(mr_model, mr_fixture):
    with pytest.raises(ValueError, match="head policy"):
        list(iter_log_density(mr_model, frames_of(mr_fixture), head="nope"))
    with pytest.raises(ValueError, match="uint8"):
        list(iter_log_density(mr_model, [np.zeros((64, 96, 3), np.float32)]))
    with pytest.raises(ValueError, match="unknown model"):
        build_model("deepgaze_xx")
