"""`python -m salience`: steps by hand, clean errors, clean stops."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
from helpers.videos import make_video

from salience import store


def salience(*args, **popen):
    return subprocess.run([sys.executable, "-m", "salience", *args], capture_output=True, text=True, **popen)


def test_steps_by_hand(tmp_path):
    video = make_video(tmp_path / "clip.mp4", frames=6, size="48x32")
    result = salience("probe", str(video), "--output", str(tmp_path / "probe.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "probe.json").read_text())["frame_count"] == 6
    result = salience("predict", str(video), "--output", str(tmp_path / "s.zarr"), "--weights", "untrained",
                      "--start", "2", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "100%" in result.stderr and "| 4/4 [" in result.stderr  # the progress line in the log
    array = store.open_array(tmp_path / "s.zarr")
    assert array.shape == (4, 32, 48) and np.isfinite(array[:]).all()


def test_the_center_bias_used_is_stored(tmp_path):
    """The chunk store holds the log center bias the model added: resized, normalized."""
    from salience.models import build_model
    from salience.models.center_bias import load_center_bias

    video = make_video(tmp_path / "clip.mp4", frames=2, size="48x32")
    bias = np.outer(np.hanning(10) + 0.1, np.hanning(12) + 0.1)
    np.save(tmp_path / "cb.npy", bias)
    result = salience("download", "--model", "deepgaze_mr", "--weights", "untrained",
                      "--center-bias", str(tmp_path / "cb.npy"), "--output", str(tmp_path / "record.json"))
    assert result.returncode == 0, result.stderr
    result = salience("predict", str(video), "--output", str(tmp_path / "s.zarr"),
                      "--weights-record", str(tmp_path / "record.json"), "--device", "cpu")
    assert result.returncode == 0, result.stderr
    stored = store.read_center_bias(tmp_path / "s.zarr")
    assert stored.shape == (32, 48) and stored.dtype == np.float32
    np.testing.assert_allclose(np.log(np.exp(stored.astype(np.float64)).sum()), 0, atol=1e-5)
    # the file as the prediction job loads it (checked and normalized in float64)
    center_bias = load_center_bias(tmp_path / "cb.npy", "probability_map")
    expected = build_model("deepgaze_mr").log_center_bias(32, 48, center_bias)
    np.testing.assert_array_equal(stored, expected.numpy())
    assert not np.allclose(stored, stored.mean())  # the file's bias, not a uniform one


def test_bad_input_is_one_clear_line(tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    result = salience("probe", str(notes), "--output", str(tmp_path / "p.json"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and str(notes) in result.stderr
    assert "Traceback" not in result.stderr
    result = salience("predict", str(notes), "--output", str(tmp_path / "s.zarr"), "--weights", "untrained")
    assert result.returncode == 2 and str(notes) in result.stderr
    assert not (tmp_path / "p.json").exists() and not (tmp_path / "s.zarr").exists()


def test_sigterm_leaves_nothing_half_written(tmp_path):
    video = make_video(tmp_path / "clip.mp4", frames=200, size="160x120")
    process = subprocess.Popen(
        [sys.executable, "-m", "salience", "predict", str(video), "--output", str(tmp_path / "s.zarr"),
         "--weights", "untrained", "--device", "cpu", "--batch-size", "1", "--threads", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".s.zarr.*partial")):  # writing has begun
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
