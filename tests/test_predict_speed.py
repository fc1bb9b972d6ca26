"""Speed levers of salience.predict: the decoder thread, reduced precision, tuning.

fp32 exactness against the reference stays with test_deepgaze_mr.py and
test_chunks.py; here the levers must not change the maps beyond rounding, and
reduced precision must stay within the error measured on the fixture
(benchmarks/bench_speed.py prints those figures).
"""

import os
import threading

import numpy as np
import pytest
import torch
from recipe import fill_with_recipe

from salience.models import build_model
from salience.background import BackgroundIterator, map_ahead
from salience.predict import (
    Tuning,
    _Compute,
    _host_batches,
    _MeanWindowStream,
    _overlapped,
    iter_log_density,
)

# Reduced-precision backbone on the fixture, frames 15..23, against fp32,
# measured with torch 2.14 on an AVX512-BF16 CPU (benchmarks/bench_speed.py):
#   bf16: max 2.6e-3, mean 5.5e-4, lowest Pearson r of the densities 0.9999988
#   fp16: max 3.0e-4, mean 9.9e-5, lowest r 0.99999994
# The bounds leave room for other CPUs' and GPUs' kernels.
BF16_BOUNDS = {"max_abs": 1e-2, "mean_abs": 2e-3, "min_pearson": 0.9999}
FP16_BOUNDS = {"max_abs": 2e-3, "mean_abs": 5e-4, "min_pearson": 0.99999}


class DecoderBroke(RuntimeError):
    pass


def decoder_threads():
    return [t for t in threading.enumerate() if t.name == "salience-decoder" and t.is_alive()]


@pytest.fixture(scope="module")
def fixture(fixture_npz):
    return fixture_npz("deepgaze_mr_seed1.npz")


@pytest.fixture(scope="module")
def model(fixture):
    model = build_model("deepgaze_mr")
    fill_with_recipe(model, int(fixture["seed"]))
    return model


@pytest.fixture(scope="module")
def small_model():
    return build_model("deepgaze_mr")


def predict(model, fixture, **options):
    results = list(iter_log_density(model, list(fixture["frames"]), center_bias=fixture["center_bias"],
                                    device="cpu", **options))
    assert [i for i, _ in results] == list(range(24))
    return np.stack([m for _, m in results])


def small_frames(count, fail_after=None, released=None):
    """48x32 frames; raises DecoderBroke after ``fail_after`` frames; sets ``released`` when closed."""
    rng = np.random.default_rng(0)
    try:
        for index in range(count):
            if index == fail_after:
                raise DecoderBroke(f"decoder broke at frame {index}")
            yield rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    finally:
        if released is not None:
            released.set()


# --------------------------------------------------------------------------- decoder thread


def test_background_iterator_hands_on_the_decoder_error_itself():
    def source():
        yield 1
        yield 2
        raise DecoderBroke("corrupt packet at frame 2")

    got = []
    with BackgroundIterator(source(), depth=2) as items, pytest.raises(DecoderBroke, match="^corrupt packet at frame 2$"):
        for item in items:
            got.append(item)  # noqa: PERF402 - the items before the error count
    assert got == [1, 2]
    assert not decoder_threads()


def test_background_iterator_stops_and_closes_its_source_when_the_consumer_stops():
    released = threading.Event()

    def endless():
        try:
            index = 0
            while True:
                yield index
                index += 1
        finally:
            released.set()

    items = BackgroundIterator(endless(), depth=2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert released.is_set()  # the source was closed (a video reader releases its file)
    assert not decoder_threads()
    with pytest.raises(StopIteration):
        next(items)


def test_background_iterator_stays_within_its_depth():
    made = []

    def counted():
        for index in range(100):
            made.append(index)
            yield index

    with BackgroundIterator(counted(), depth=2) as items:
        next(items)
        threading.Event().wait(0.3)  # let the producer run ahead as far as it may
        # one handed out, two queued, one made and waiting for room
        assert len(made) <= 4


def test_map_ahead_keeps_the_order_and_raises_where_the_failing_item_was_due():
    def slow_square(item):
        threading.Event().wait(0.01 * (5 - item % 5))  # later items finish first
        if item == 7:
            raise ValueError("item 7")
        return item * item

    got = []
    with pytest.raises(ValueError, match="item 7"):
        for value in map_ahead(slow_square, range(10), workers=3, ahead=4):
            got.append(value)
    assert got == [i * i for i in range(7)]


def test_a_decoder_error_surfaces_in_order_with_its_message(small_model):
    got = []
    with pytest.raises(DecoderBroke, match="^decoder broke at frame 10$"):
        for index, _ in iter_log_density(small_model, small_frames(20, fail_after=10),
                                         batch_size=4, device="cpu"):
            got.append(index)
    assert got == list(range(8))  # the two whole micro-batches before the failing one
    assert not decoder_threads()


def test_stopping_early_ends_the_decoder_thread(small_model):
    released = threading.Event()
    stream = iter_log_density(small_model, small_frames(10_000, released=released),
                              batch_size=2, device="cpu")
    assert next(stream)[0] == 0
    assert decoder_threads()
    stream.close()
    assert released.is_set()
    assert not decoder_threads()


def test_frames_must_be_uint8_rgb_with_the_decoder_thread(small_model):
    with pytest.raises(ValueError, match="uint8"):
        list(iter_log_density(small_model, [np.zeros((32, 48, 3), np.float32)], device="cpu"))
    assert not decoder_threads()


# --------------------------------------------------------------------------- overlapped output


def overlapped(model, frames, batch_size=4):
    device = torch.device("cpu")
    runner = _MeanWindowStream(model, None, "partial", device, _Compute(device, torch.float32, Tuning()), 0, 0)
    return _overlapped(runner, _host_batches(frames, batch_size, pin=False), device, Tuning())


def test_overlapped_output_keeps_maps_and_error_order(small_model):
    # The CUDA path's one-batch lookahead, run on the CPU: same maps, same order,
    # and a failing batch still lets the maps before it out first.
    frames = list(small_frames(14))
    direct = dict(iter_log_density(small_model, frames, batch_size=4, device="cpu"))
    ahead = list(overlapped(small_model, frames))
    assert [i for i, _ in ahead] == list(range(14))
    for index, log_density in ahead:
        np.testing.assert_array_equal(log_density, direct[index])

    got = []
    with pytest.raises(DecoderBroke, match="frame 10"):
        for index, _ in overlapped(small_model, small_frames(20, fail_after=10)):
            got.append(index)
    assert got == list(range(8))


# --------------------------------------------------------------------------- levers and precision


def test_layout_and_prefetch_do_not_change_the_maps(model, fixture):
    default = predict(model, fixture, batch_size=5)
    plain = predict(model, fixture, batch_size=5,
                    tuning=Tuning(prefetch=0, channels_last=False, pin_memory=False, overlap_output=False))
    np.testing.assert_allclose(plain, default, atol=1e-5, rtol=0)
    np.testing.assert_allclose(default[15:], fixture["expected"][15:], atol=1e-4, rtol=0)


def errors(maps, reference):
    maps, reference = maps.astype(np.float64), reference.astype(np.float64)
    difference = np.abs(maps - reference)
    pearson = min(np.corrcoef(np.exp(a).ravel(), np.exp(b).ravel())[0, 1] for a, b in zip(maps, reference))
    return difference.max(), difference.mean(), pearson


def assert_within(maps, fp32, max_abs, mean_abs, min_pearson):
    assert maps.dtype == np.float32  # the readout and finalizer run in float32
    got_max, got_mean, got_pearson = errors(maps[15:], fp32[15:])
    assert 0 < got_max <= max_abs  # > 0: the backbone really ran in reduced precision
    assert got_mean <= mean_abs
    assert got_pearson >= min_pearson
    # still normalized log-densities
    np.testing.assert_allclose(np.logaddexp.reduce(maps.reshape(len(maps), -1), axis=1), 0, atol=1e-5)


def test_bf16_stays_within_the_measured_bound(model, fixture):
    fp32 = predict(model, fixture, batch_size=4)
    assert_within(predict(model, fixture, batch_size=4, dtype="bf16"), fp32, **BF16_BOUNDS)


def test_fp16_stays_within_the_measured_bound(model, fixture, caplog):
    fp32 = predict(model, fixture, batch_size=4)
    try:
        fp16 = predict(model, fixture, batch_size=4, dtype="fp16")
    except (NotImplementedError, RuntimeError) as error:  # these tests run on the CPU
        pytest.skip(f"fp16 convolutions unsupported on this CPU: {error}")
    assert_within(fp16, fp32, **FP16_BOUNDS)
    assert "fp16 on the CPU" in caplog.text  # slow there (fallback kernels): the user is told


@pytest.mark.skipif(not os.environ.get("SALIENCE_TEST_COMPILE"),
                    reason="torch.compile takes about a minute on the CPU; set SALIENCE_TEST_COMPILE=1")
def test_compiled_backbone_matches(model, fixture):
    # batch 5 over 24 frames: the last micro-batch (4 frames) is padded, not recompiled
    compiled = predict(model, fixture, batch_size=5, tuning=Tuning(compile=True))
    np.testing.assert_allclose(compiled[15:], fixture["expected"][15:], atol=1e-4, rtol=0)
