"""Every CUDA path, on a real GPU (marker ``gpu``; skipped with the reason where torch sees none).

    python -m pytest -m gpu tests/gpu/test_gpu.py -ra      # benchmarks/gpu_acceptance.sh runs this

Exactness first: CUDA equals the CPU and the golden fixture in fp32 (TF32
off) within 1e-4, with every lever on (pinned uint8 host buffers,
non-blocking copies, the output copy overlapped with the next micro-batch,
cuDNN autotuning, torch.compile); chunked equals sequential on CUDA;
bf16/fp16 stay within the bounds measured on the fixture
(test_predict_speed.py); out of GPU memory is one line and leaves nothing.
"""

import numpy as np
import pytest
import torch
from helpers.precision import BF16_BOUNDS, FP16_BOUNDS, assert_within
from helpers.videos import make_video_without_ffmpeg as make_video  # the GPU machine has no ffmpeg binary

from salience.device import doctor, inspect_cuda, problem, resolve_device
from salience.models import build_model
from salience.plan import plan_chunks
from salience.predict import Tuning, _Emitted, _host_batches, _to_device, iter_log_density, predict_range
from salience.video import read_frames


def _why_no_gpu() -> str:
    report = inspect_cuda()
    return f"no usable CUDA device: {problem(report) or 'torch sees none'} [{report.summary()}]"


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason=_why_no_gpu()),
]
CUDA = "cuda"
LEVERS_OFF = Tuning(prefetch=0, channels_last=False, pin_memory=False, overlap_output=False,
                    cudnn_benchmark=False)


def predict(mr_model, mr_fixture, device=CUDA, **options):
    results = list(iter_log_density(mr_model, list(mr_fixture["frames"]), center_bias=mr_fixture["center_bias"],
                                    device=device, **options))
    assert [i for i, _ in results] == list(range(24))
    return np.stack([m for _, m in results])


def test_the_gpu_is_usable_and_the_doctor_says_so():
    assert resolve_device(CUDA).type == "cuda"
    lines, ok = doctor(CUDA)
    assert ok, "\n".join(lines)
    assert any(line.startswith("forward pass on cuda:0") and ": ok" in line for line in lines)


def test_cuda_fp32_equals_cpu_and_the_fixture(mr_model, mr_fixture):
    before = torch.backends.cudnn.allow_tf32
    cuda = predict(mr_model, mr_fixture, batch_size=4)  # every lever on: the default Tuning
    assert torch.backends.cudnn.allow_tf32 == before  # TF32 was off only inside, restored
    assert torch.backends.cudnn.benchmark  # cuDNN autotuning was on
    cpu = predict(mr_model, mr_fixture, device="cpu", batch_size=4)
    np.testing.assert_allclose(cuda, cpu, atol=1e-4, rtol=0)
    np.testing.assert_allclose(cuda[15:], mr_fixture["expected"][15:], atol=1e-4, rtol=0)


def test_levers_and_batch_sizes_do_not_change_the_maps_on_cuda(mr_model, mr_fixture):
    default = predict(mr_model, mr_fixture, batch_size=4)
    for options in (dict(batch_size=1), dict(batch_size=16), dict(batch_size=5, tuning=LEVERS_OFF),
                    dict(batch_size=4, tuning=Tuning(overlap_output=False)),
                    dict(batch_size=4, tuning=Tuning(pin_memory=False))):
        np.testing.assert_allclose(predict(mr_model, mr_fixture, **options), default, atol=1e-5, rtol=0,
                                   err_msg=str(options))


def test_tf32_changes_fp32_results_so_it_stays_off(mr_model, mr_fixture):
    # Not an equality: shows that the switch reaches the convolutions at all
    # (on GPUs without TF32, i.e. before Ampere, both runs are equal).
    exact = predict(mr_model, mr_fixture, batch_size=4)
    tf32 = predict(mr_model, mr_fixture, batch_size=4, tuning=Tuning(allow_tf32=True))
    if torch.cuda.get_device_capability() >= (8, 0):
        assert np.abs(tf32 - exact).max() > 1e-6


def test_frames_travel_as_pinned_uint8_and_are_scaled_on_the_gpu():
    frames = [np.random.default_rng(i).integers(0, 256, (32, 48, 3), dtype=np.uint8) for i in range(5)]
    batches = list(_host_batches(iter(frames), 4, pin=True))
    assert [len(b) for b in batches] == [4, 1]
    assert all(b.dtype == torch.uint8 and b.is_pinned() for b in batches)
    on_gpu = _to_device(batches[0], torch.device(CUDA), Tuning())
    assert on_gpu.is_cuda and on_gpu.dtype == torch.float32
    assert on_gpu.is_contiguous(memory_format=torch.channels_last)
    expected = torch.from_numpy(np.stack(frames[:4])).permute(0, 3, 1, 2).float() / 255
    # CUDA divides by a scalar as a multiplication by its reciprocal: within one float32 ulp of the
    # CPU's division (measured on an H200: 49 % of values 1 ulp off, none more).
    torch.testing.assert_close(on_gpu.cpu(), expected, atol=0, rtol=torch.finfo(torch.float32).eps)


def test_the_output_copy_is_queued_behind_the_computation():
    maps = torch.randn(3, 32, 48, device=CUDA)
    emitted = _Emitted(7, maps, pin=True)
    assert emitted.ready is not None and emitted.maps.is_pinned()  # asynchronous copy, an event to wait on
    out = list(emitted)
    assert [i for i, _ in out] == [7, 8, 9]
    np.testing.assert_array_equal(np.stack([m for _, m in out]), maps.cpu().numpy())


def test_chunked_equals_sequential_on_cuda(tmp_path):
    torch.manual_seed(1)
    mr_model = build_model("deepgaze_mr")
    video = make_video(tmp_path / "clip.mp4", frames=40, size="48x32")
    sequential = np.stack([m for _, m in iter_log_density(mr_model, read_frames(video), batch_size=4, device=CUDA)])
    for chunk_frames in (7, 16):
        pieces = [m for chunk in plan_chunks(40, chunk_frames)
                  for _, m in predict_range(mr_model, video, chunk.start, chunk.stop, batch_size=3, device=CUDA)]
        np.testing.assert_allclose(np.stack(pieces), sequential, atol=1e-5, rtol=0)


@pytest.mark.parametrize("precision, bounds", [("bf16", BF16_BOUNDS), ("fp16", FP16_BOUNDS)])
def test_reduced_precision_on_cuda_stays_within_the_measured_bounds(mr_model, mr_fixture, precision, bounds):
    fp32 = predict(mr_model, mr_fixture, batch_size=4)
    assert_within(predict(mr_model, mr_fixture, batch_size=4, dtype=precision), fp32, **bounds)


def test_compiled_backbone_matches_on_cuda(mr_model, mr_fixture):
    compiled = predict(mr_model, mr_fixture, batch_size=5, tuning=Tuning(compile=True))  # last batch padded
    np.testing.assert_allclose(compiled[15:], mr_fixture["expected"][15:], atol=1e-4, rtol=0)


def test_per_frame_model_on_cuda_equals_cpu(tmp_path):
    iii = build_model("deepgaze_iii")
    clip = make_video(tmp_path / "clip.mp4", frames=3, size="128x96")
    on = {device: np.stack([m for _, m in iter_log_density(iii, read_frames(clip), device=device)])
          for device in ("cpu", CUDA)}
    np.testing.assert_allclose(on[CUDA], on["cpu"], atol=1e-4, rtol=0)


def test_out_of_gpu_memory_is_one_line_and_leaves_nothing(tmp_path, capsys):
    from salience.__main__ import main

    video = make_video(tmp_path / "clip.mp4", frames=20, size="640x360")
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(0.002)  # about 160 MiB of an 80 GB card: VGG19 alone is 80
    try:
        code = main(["predict", str(video), "--output", str(tmp_path / "s.zarr"), "--weights", "untrained",
                     "--device", CUDA, "--batch-size", "16"])
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err[-1].startswith("error: out of GPU memory") and "batch_size 16" in err[-1]
    assert "640x360 frames" in err[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
