"""One timeline: time 0 is when the video's first frame is shown, whatever the container's clock says."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.videos import make_late_ts

from salience import video
from salience.encode import H264Writer
from salience.settings import Encoding


@pytest.fixture(scope="module")
def late_ts(tmp_path_factory):
    path = make_late_ts(tmp_path_factory.mktemp("ts") / "obs.ts")
    return video.probe(path)


def test_the_videos_timeline_starts_at_its_first_frame(late_ts):
    assert late_ts.timestamps[0] > 1.4  # the container's clock: not 0
    assert late_ts.audio_start == pytest.approx(late_ts.timestamps[0] - 0.2, abs=0.03)
    assert late_ts.origin == late_ts.timestamps[0]
    assert late_ts.times[0] == 0.0
    # exactly frame / 25, as fractions of the pts (a float subtraction of the timestamps is off by ulps)
    np.testing.assert_array_equal(late_ts.times, np.arange(14) / 25)
    assert late_ts.duration == pytest.approx(14 / 25)


def test_rendered_videos_start_with_the_first_frame_and_cut_earlier_sound(late_ts, tmp_path):
    frames = video.read_frames(late_ts)
    with H264Writer(tmp_path / "out.mp4", late_ts, Encoding(crf=30)) as writer:
        for frame in frames:
            writer.write(frame)
    out = video.probe(tmp_path / "out.mp4")
    np.testing.assert_allclose(out.timestamps, late_ts.times, atol=1e-3)  # the store's times, the gaze's times
    assert out.has_audio and abs(out.audio_start - out.timestamps[0]) < 1e-3  # sound from the first frame on
