"""Chunked prediction equals one sequential run, on real encoded videos."""

import numpy as np
import pytest
import torch
import zarr
from helpers.videos import make_video

from salience import store
from salience.errors import SalienceError
from salience.models import build_model
from salience.plan import plan_chunks
from salience.predict import iter_log_density, predict_range
from salience.settings import Storage
from salience.video import read_frames

FRAMES = 40
SIZE = "48x32"  # the smallest VGG19 input with a 2 x 3 feature map: fast


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    return build_model("deepgaze_mr")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    # .ts: OpenCV's seeking is not exact there, so reading must not trust it
    folder = tmp_path_factory.mktemp("v")
    return {kind: make_video(folder / f"clip.{kind}", frames=FRAMES, size=SIZE) for kind in ("mp4", "ts")}


@pytest.fixture(scope="module")
def video(videos):
    return videos["mp4"]


@pytest.fixture(scope="module")
def sequential(model, video):
    """One sequential run; decoding is bit-exact, so it serves every container."""
    results = list(iter_log_density(model, read_frames(video), batch_size=4, device="cpu"))
    assert [i for i, _ in results] == list(range(FRAMES))
    return np.stack([m for _, m in results])


# Chunks shorter than the 16-frame window, of odd size, and of exactly one
# window; the decode-forward path (.ts) needs only one.
@pytest.mark.parametrize("kind, chunk_frames", [("mp4", 3), ("mp4", 7), ("mp4", 16), ("ts", 7)])
def test_chunked_equals_sequential(model, videos, sequential, kind, chunk_frames):
    video = videos[kind]
    pieces = []
    for chunk in plan_chunks(FRAMES, chunk_frames):
        got = list(predict_range(model, video, chunk.start, chunk.stop, batch_size=3, device="cpu"))
        assert [i for i, _ in got] == list(range(chunk.start, chunk.stop))
        pieces += [m for _, m in got]
    chunked = np.stack(pieces)
    assert chunked.shape == sequential.shape
    np.testing.assert_allclose(chunked, sequential, atol=1e-5, rtol=0)


def test_plan_tiles_the_video_and_warms_up():
    chunks = plan_chunks(100, 30)
    assert [(c.start, c.stop, c.warm_up) for c in chunks] == [
        (0, 30, 0), (30, 60, 15), (60, 90, 15), (90, 100, 15)]
    assert [(c.start, c.warm_up) for c in plan_chunks(20, 7)] == [(0, 0), (7, 7), (14, 14)]
    assert all(c.warm_up == 0 for c in plan_chunks(20, 7, window=1))


def test_chunk_stores_assemble_to_the_sequential_result(model, video, sequential, tmp_path):
    paths = []
    for chunk in plan_chunks(FRAMES, 15):
        path = tmp_path / f"{chunk.name}.zarr"
        store.write_frames(path, predict_range(model, video, chunk.start, chunk.stop, device="cpu"),
                           first=chunk.start, count=chunk.stop - chunk.start,
                           height=32, width=48, attrs={"fps": 25.0}, storage=Storage(shard_frames=5))
        paths.append(path)
    out = tmp_path / "saliency.zarr"
    store.assemble(reversed(paths), out, frame_count=FRAMES, attrs={"fps": 25.0})
    array = store.open_array(out)
    assert array.shape == (FRAMES, 32, 48) and array.chunks == (1, 32, 48) and array.shards == (5, 32, 48)
    np.testing.assert_allclose(array[:], sequential, atol=1e-5, rtol=0)

    with pytest.raises(SalienceError, match="frame 15 is due"):  # a missing chunk
        store.assemble([paths[0], paths[2]], tmp_path / "gap.zarr", frame_count=FRAMES, attrs={})
    assert not (tmp_path / "gap.zarr").exists()


def test_float16_stores_round_to_nearest_and_stay_normalized(sequential, tmp_path):
    """float16 storage: every value the nearest float16, every frame still passes the check."""
    halves = [(0, 12), (12, FRAMES)]
    paths = []
    for first, stop in halves:
        paths.append(tmp_path / f"{first}.zarr")
        store.write_frames(paths[-1], ((i, sequential[i]) for i in range(first, stop)), first=first,
                           count=stop - first, height=32, width=48, attrs={},
                           storage=Storage(dtype="float16", threads=3, shard_frames=4))
    out = tmp_path / "saliency.zarr"
    store.assemble(paths, out, frame_count=FRAMES, attrs={"fps": 25.0}, dtype="float16")
    array = store.open_array(out)
    assert array.dtype == np.float16 and zarr.open_group(str(out), mode="r").attrs["store_dtype"] == "float16"
    np.testing.assert_array_equal(array[:], sequential.astype(np.float16))
    error = np.abs(array[:].astype(np.float64) - sequential)
    assert error.max() <= 2.0 ** -8 and error.max() > 0  # values near -7.3: float16's step there is 2**-7
    for index, frame in enumerate(array[:]):
        store.check_frame(frame, index, out)  # the 1e-3 normalization tolerance holds for float16

    with pytest.raises(SalienceError, match="not float32 as asked"):  # assembly never re-encodes
        store.assemble(paths, tmp_path / "f32.zarr", frame_count=FRAMES, attrs={"fps": 25.0}, dtype="float32")
    with pytest.raises(SalienceError, match="store dtype must be one of"):
        store.write_frames(tmp_path / "x.zarr", iter([]), first=0, count=1, height=32, width=48, attrs={},
                           storage=Storage(dtype="float64"))
    assert not (tmp_path / "x.zarr").exists() and not (tmp_path / "f32.zarr").exists()


def test_a_failed_write_leaves_no_store(tmp_path):
    def frames():
        yield 0, np.zeros((4, 4), np.float32)
        raise RuntimeError("killed")

    target = tmp_path / "chunk.zarr"
    with pytest.raises(RuntimeError):
        store.write_frames(target, frames(), first=0, count=2, height=4, width=4, attrs={})
    assert list(tmp_path.iterdir()) == []


def test_a_short_video_is_an_error_not_a_short_store(tmp_path):
    frames = ((i, np.full((4, 4), -np.log(16), np.float32)) for i in range(3))
    with pytest.raises(SalienceError, match="truncated"):
        store.write_frames(tmp_path / "c.zarr", frames, first=0, count=5, height=4, width=4, attrs={})
    assert not (tmp_path / "c.zarr").exists()


def test_a_failed_background_write_is_raised_and_leaves_no_store(tmp_path):
    class Unwritable:  # fails when the writer thread converts it
        shape = (4, 4)

        def __array__(self, *args, **kwargs):
            raise RuntimeError("disk full")

    uniform = np.full((4, 4), -np.log(16), np.float32)
    frames = [(0, uniform), (1, Unwritable()), (2, uniform)]
    with pytest.raises(RuntimeError, match="disk full"):
        store.write_frames(tmp_path / "c.zarr", iter(frames), first=0, count=3, height=4, width=4, attrs={})
    assert list(tmp_path.iterdir()) == []


def test_a_frame_of_the_wrong_size_is_refused_not_cropped(tmp_path):
    frames = [(0, np.zeros((4, 4), np.float32)), (1, np.zeros((5, 5), np.float32))]
    with pytest.raises(SalienceError, match=r"frame 1 is \(5, 5\)"):
        store.write_frames(tmp_path / "c.zarr", iter(frames), first=0, count=2, height=4, width=4, attrs={})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_text_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    from salience.atomic import write_text

    target = tmp_path / "probe.json"
    write_text(target, "old\n")
    with pytest.raises(TypeError):
        write_text(target, None)  # fails inside the write
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["probe.json"]
    write_text(target, "new\n")
    assert target.read_text() == "new\n" and len(list(tmp_path.iterdir())) == 1
