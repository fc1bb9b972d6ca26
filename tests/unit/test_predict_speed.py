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

from salience.models import build_model
from helpers.precision import BF16_BOUNDS, FP16_BOUNDS, assert_within

from salience.background import BackgroundIterator, map_ahead
from salience.predict import (
    Tuning,
    _Compute,
    _host_batches,
    _MeanWindowStream,
    _overlapped,
    iter_log_density,
)

class DecoderBroke(RuntimeError):
    pass


def decoder_threads():
    return [t for t in threading.enumerate() if t.name == "salience-decoder" and t.is_alive()]


@pytest.fixture(scope="module")
def small_model():
    return build_model("deepgaze_mr")


def predict(mr_model, mr_fixture, **options):
    results = list(iter_log_density(mr_model, list(mr_fixture["frames"]), center_bias=mr_fixture["center_bias"],
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


def overlapped(mr_model, frames, batch_size=4):
    device = torch.device("cpu")
    runner = _MeanWindowStream(mr_model, None, "partial", device, _Compute(device, torch.float32, Tuning()), 0, 0)
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


def test_layout_and_prefetch_do_not_change_the_maps(mr_model, mr_fixture):
    default = predict(mr_model, mr_fixture, batch_size=5)
    plain = predict(mr_model, mr_fixture, batch_size=5,
                    tuning=Tuning(prefetch=0, channels_last=False, pin_memory=False, overlap_output=False))
    np.testing.assert_allclose(plain, default, atol=1e-5, rtol=0)
    np.testing.assert_allclose(default[15:], mr_fixture["expected"][15:], atol=1e-4, rtol=0)


def test_bf16_stays_within_the_measured_bound(mr_model, mr_fixture):
    fp32 = predict(mr_model, mr_fixture, batch_size=4)
    assert_within(predict(mr_model, mr_fixture, batch_size=4, dtype="bf16"), fp32, **BF16_BOUNDS)


def test_fp16_stays_within_the_measured_bound(mr_model, mr_fixture, caplog):
    fp32 = predict(mr_model, mr_fixture, batch_size=4)
    try:
        fp16 = predict(mr_model, mr_fixture, batch_size=4, dtype="fp16")
    except (NotImplementedError, RuntimeError) as error:  # these tests run on the CPU
        pytest.skip(f"fp16 convolutions unsupported on this CPU: {error}")
    assert_within(fp16, fp32, **FP16_BOUNDS)
    assert "fp16 on the CPU" in caplog.text  # slow there (fallback kernels): the user is told


@pytest.mark.skipif(not os.environ.get("SALIENCE_TEST_COMPILE"),
                    reason="torch.compile takes about a minute on the CPU; set SALIENCE_TEST_COMPILE=1")
def test_compiled_backbone_matches(mr_model, mr_fixture):
    # batch 5 over 24 frames: the last micro-batch (4 frames) is padded, not recompiled
    compiled = predict(mr_model, mr_fixture, batch_size=5, tuning=Tuning(compile=True))
    np.testing.assert_allclose(compiled[15:], mr_fixture["expected"][15:], atol=1e-4, rtol=0)
