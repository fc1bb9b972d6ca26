"""salience.video on real encoded files: frame-exact ranges, counts, audio, bad input.

Every video is made here with the ffmpeg binary of imageio-ffmpeg; all are tiny
(96 x 64, about 2 s) so the whole module runs in a few seconds.
"""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest

from helpers.videos import decode_all, ffmpeg, frame_times

from salience import video
from salience.errors import VideoError

FRAMES = 50
SOURCE = ["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25"]
H264 = ["-c:v", "libx264", "-bf", "3", "-g", "12", "-pix_fmt", "yuv420p"]  # B-frames, several GOPs

# name -> ffmpeg output options; each becomes tmp/<name>
RECIPES = {
    "h264.mp4": H264,
    "h264.mkv": H264,
    "h264.mov": H264,
    "h264.ts": H264,
    "mpeg4.avi": ["-c:v", "mpeg4", "-bf", "2", "-g", "12"],
    "mjpeg.avi": ["-c:v", "mjpeg"],
    "faststart.mp4": H264 + ["-movflags", "+faststart"],
}
CONTAINERS = ["h264.mp4", "h264.mkv", "h264.mov", "h264.ts", "mpeg4.avi", "mjpeg.avi", "audio.mp4"]



@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    """name -> path of every test video (made once per session)."""
    folder = tmp_path_factory.mktemp("videos")
    paths = {}
    for name, options in RECIPES.items():
        paths[name] = folder / name
        ffmpeg(*SOURCE, "-frames:v", str(FRAMES), *options, str(paths[name]))
    paths["audio.mp4"] = folder / "audio.mp4"
    ffmpeg(*SOURCE, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
           "-frames:v", str(FRAMES), *H264, "-c:a", "aac", "-shortest", str(paths["audio.mp4"]))
    return paths



def truncated_copy(source, target, fraction: float = 0.6):
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


# --------------------------------------------------------------------------- good files


@pytest.mark.parametrize("name", CONTAINERS)
def test_read_frames_matches_sequential_decoding(videos, name):
    path = videos[name]
    reference = decode_all(path)
    assert len(reference) == FRAMES
    info = video.probe(path)
    rng = random.Random(name)
    ranges = [(0, FRAMES), (0, 1), (FRAMES - 1, FRAMES), (7, 7), (13, 14)]
    for _ in range(14):
        a = rng.randrange(FRAMES)
        ranges.append((a, rng.randint(a, min(FRAMES, a + rng.choice([1, 3, 20])))))
    for source in (info, path):  # by timestamp (seeks), and from a bare path (decoding forward)
        for a, b in ranges if source is info else ranges[:6]:
            got = list(video.read_frames(source, a, b))
            assert len(got) == b - a, (name, a, b)
            for offset, frame in enumerate(got):
                assert frame.dtype == np.uint8 and frame.shape == (64, 96, 3)
                assert np.array_equal(frame, reference[a + offset]), (name, a, b, a + offset)
    # stop=None reads to the end
    tail = list(video.read_frames(info, FRAMES - 5))
    assert len(tail) == 5 and np.array_equal(tail[-1], reference[-1])


@pytest.mark.parametrize("name", CONTAINERS)
def test_probe_counts_by_decoding_and_records_timestamps(videos, name):
    info = video.probe(videos[name])
    assert info.frame_count == FRAMES
    assert (info.width, info.height) == (96, 64)
    assert info.fps == pytest.approx(25.0) and not info.vfr
    assert info.has_audio == (name == "audio.mp4")
    assert info.timestamps == pytest.approx(frame_times(videos[name]), abs=1e-6)
    assert info.sar == "1/1" and info.rotation == 0 and info.decode_error is None


def test_video_info_round_trips_through_dict(videos):
    info = video.probe(videos["audio.mp4"])
    assert video.VideoInfo.from_dict(info.to_dict()) == info
    assert video.VideoInfo.from_dict({**info.to_dict(), "extra": 1}) == info
    d = json.loads(json.dumps(info.to_dict()))  # what probe.json holds
    assert len(d["timestamps"]) == FRAMES and d["padded_size"] == [96, 64]
    for key in ("frame_count", "fps", "width", "height", "has_audio", "sar", "rotation", "audio_start", "codec"):
        assert key in d


def test_reading_past_the_end_raises(videos):
    for name in ("h264.mp4", "h264.ts"):
        path = videos[name]
        info = video.probe(path)
        for source in (path, info):
            with pytest.raises(VideoError, match=re.escape(str(path))):
                list(video.read_frames(source, FRAMES - 2, FRAMES + 1))
            with pytest.raises(VideoError, match=re.escape(str(path))):
                list(video.read_frames(source, FRAMES + 3, FRAMES + 4))
    with pytest.raises(ValueError):
        list(video.read_frames(videos["h264.mp4"], 5, 4))


def test_a_file_changed_after_probing_is_caught(videos, tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(videos["h264.mp4"].read_bytes())
    info = video.probe(path)
    ffmpeg(*SOURCE, "-frames:v", str(FRAMES), "-r", "20", *H264, str(path))  # other timestamps
    with pytest.raises(VideoError, match="changed after it was probed"):
        list(video.read_frames(info, 10, 12))


# --------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    path = tmp_path / "missing.mp4"
    with pytest.raises(VideoError, match="no such file") as error:
        video.probe(path)
    assert str(path) in str(error.value)
    with pytest.raises(VideoError, match=re.escape(str(path))):
        next(video.read_frames(path))


def test_directory(tmp_path):
    with pytest.raises(VideoError, match="directory") as error:
        video.probe(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    for check in (video.probe, video.check_readable, lambda p: next(video.read_frames(p))):
        with pytest.raises(VideoError, match="not a readable video") as error:
            check(path)
        assert str(path) in str(error.value)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoError, match="empty") as error:
        video.probe(path)
    assert str(path) in str(error.value)


def test_zero_frame_video(tmp_path):
    path = tmp_path / "zero.mp4"
    ffmpeg(*SOURCE, "-frames:v", "0", *H264, str(path))
    with pytest.raises(VideoError, match="no video stream|no decodable frames") as error:
        video.probe(path)
    assert str(path) in str(error.value)


def test_truncated_mp4_without_index(videos, tmp_path):
    # A plain MP4 keeps its index at the end: a cut file cannot be opened at all.
    path = truncated_copy(videos["h264.mp4"], tmp_path / "cut.mp4")
    with pytest.raises(VideoError, match="truncated") as error:
        video.probe(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("name", ["faststart.mp4", "h264.mkv", "mpeg4.avi"])
def test_truncated_file_is_reported_or_kept(videos, tmp_path, name):
    # The header still promises every frame; the data is cut short.
    path = truncated_copy(videos[name], tmp_path / f"cut_{name}")
    with pytest.raises(VideoError, match=r"damaged: .* around [0-9.]+ s \(after frame \d+\); \d+ frames decoded") \
            as error:
        video.probe(path)
    assert str(path) in str(error.value) and "on_decode_error: keep" in str(error.value)
    info = video.probe(path, on_decode_error="keep")
    assert 0 < info.frame_count < FRAMES and info.decode_error
    assert abs(info.frame_count - len(frame_times(path))) <= 2  # about what FFmpeg's own tools decode
    reference = decode_all(path)
    assert len(reference) == info.frame_count
    for a, b in [(0, info.frame_count), (info.frame_count - 3, info.frame_count), (5, 9)]:
        got = list(video.read_frames(info, a, b))
        assert all(np.array_equal(g, reference[a + i]) for i, g in enumerate(got)) and len(got) == b - a
    with pytest.raises(VideoError, match=re.escape(str(path))):
        list(video.read_frames(info, 0, FRAMES))


def test_probe_decodes_on_one_thread(videos, monkeypatch):
    """With frame threads, whether a damaged stretch is reported depends on the threads' timing.

    On a busy machine the threaded probe once passed the damaged .mkv of
    tests/workflow/test_recordings.py as clean; one thread decides the same
    everywhere.
    """
    threads_used = []
    configure = video._configure

    def recording(stream, threads):
        threads_used.append(threads)
        configure(stream, threads)

    monkeypatch.setattr(video, "_configure", recording)
    video.probe(videos["h264.mp4"])
    assert threads_used == [1]


def test_truncated_ts_counts_what_is_there(videos, tmp_path):
    # MPEG-TS has no index: a cut file is a shorter file.
    path = truncated_copy(videos["h264.ts"], tmp_path / "cut.ts")
    info = video.probe(path)
    assert 0 < info.frame_count < FRAMES
    frames = list(video.read_frames(info))
    assert len(frames) == info.frame_count
    with pytest.raises(VideoError):
        list(video.read_frames(path, 0, info.frame_count + 1))
