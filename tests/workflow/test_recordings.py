"""Real recordings in, real timing out: the kinds of files users bring, made here with ffmpeg.

OBS-like .mkv with audio starting 0.2 s before video, MPEG-TS with audio, VFR
.mp4 and .mkv (10 fps then 30 fps), AV1, 10-bit HEVC, VP9 .webm, a rotated
phone video, SAR 2:1, 161x91, grayscale, one frame, corrupt middle packets,
raw .h264/.hevc elementary streams (with and without timing), files with two
video streams, a video with a larger cover picture.

Module level (fast): the probe against FFmpeg's own view of each file, and
every chunk plan's frames against plain sequential decoding, bit for bit.
Then ONE real `snakemake` run over all of them (chunk_frames 7): every frame
predicted once, chunked equal to a sequential run within 1e-5, and the
rendered videos at the source's timestamps from its first frame on (1 ms), with its audio in sync, its
SAR, rotation and size.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
import zarr
from helpers.snakemake import planned_jobs, snakemake
from helpers.videos import CASES, decode_all, ffmpeg, frame_times, make_case

from salience import video
from salience.errors import VideoError
from salience.plan import plan_chunks

REPO = Path(__file__).resolve().parents[2]

# name -> what the file is: frames, (width, height) as displayed, SAR, rotation, audio
EXPECTED = {
    "obs.mkv": (14, (64, 48), "1/1", 0, True),
    "audio.ts": (14, (64, 48), "1/1", 0, True),
    "vfr.mp4": (20, (64, 48), "1/1", 0, True),
    "vfr_mkv.mkv": (20, (64, 48), "1/1", 0, False),
    "av1.mp4": (14, (64, 48), "1/1", 0, False),
    "hevc10.mkv": (14, (64, 48), "1/1", 0, False),
    "vp9.webm": (14, (64, 48), "1/1", 0, True),
    "rotated.mp4": (14, (48, 64), "1/1", 90, False),
    "sar.mp4": (14, (64, 48), "2/1", 0, False),
    "odd.mp4": (12, (161, 91), "1/1", 0, False),
    "gray.mkv": (14, (64, 48), "1/1", 0, False),
    "one.mp4": (1, (64, 48), "1/1", 0, False),
    "corrupt.mkv": (None, (64, 48), "1/1", 0, False),  # as many as FFmpeg decodes
    "raw_h264.h264": (20, (64, 48), "1/1", 0, False),
    "raw_untimed.h264": (20, (64, 48), "1/1", 0, False),
    "raw_hevc.hevc": (20, (64, 48), "1/1", 0, False),
    "two_streams.mkv": (14, (96, 64), "1/1", 0, False),
    "two_streams_small_default.mkv": (9, (64, 48), "1/1", 0, False),
    "cover_art.mp4": (14, (64, 48), "1/1", 0, False),
}
assert set(EXPECTED) == set(CASES)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recordings")
    return {name: make_case(name, folder) for name in CASES}


@pytest.fixture(scope="module")
def infos(cases):
    return {name: video.probe(path, on_decode_error="keep") for name, path in cases.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_probe_tells_what_ffmpeg_sees(cases, infos, name):
    info = infos[name]
    frames, size, sar, rotation, audio = EXPECTED[name]
    times = frame_times(cases[name])  # the ffmpeg binary's own decode, --copyts
    assert info.frame_count == len(times) == (frames or len(times))
    np.testing.assert_allclose(info.timestamps, times, atol=1e-3, rtol=0)
    assert (info.width, info.height) == size and info.sar == sar and info.rotation == rotation
    assert info.has_audio == audio
    # lost packets leave a gap in time: variable-rate, and the outputs keep the gap
    assert info.vfr == (name.startswith("vfr") or name == "corrupt.mkv")
    assert (info.decode_error is not None) == (name == "corrupt.mkv")
    if name == "obs.mkv":
        assert info.audio_start == pytest.approx(info.timestamps[0] - 0.2, abs=1e-3)
    if name.startswith("raw"):  # timed as FFmpeg times them, not refused as damaged
        assert info.fps == (25.0 if "untimed" in name else 30.0) and info.stream_index == 0
    if name.startswith("two_streams"):  # the stream FFmpeg picks (frame_times: the binary's own pick)
        assert info.stream_index == (0 if name == "two_streams.mkv" else 1)
    if name.startswith("vfr"):  # 5 frames 0.1 s apart, then 15 frames 1/30 s apart
        steps = np.diff(info.timestamps)
        np.testing.assert_allclose(steps[:4], 0.1, atol=1e-3)
        np.testing.assert_allclose(steps[5:], 1 / 30, atol=1e-3)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_chunk_plan_reads_exactly_the_sequential_frames(cases, infos, name):
    info = infos[name]
    reference = decode_all(cases[name])
    assert len(reference) == info.frame_count
    for chunk_frames in (1, 3, 7, 16):
        covered = []
        for chunk in plan_chunks(info.frame_count, chunk_frames):
            first = chunk.start - chunk.warm_up
            got = list(video.read_frames(info, first, chunk.stop))
            assert len(got) == chunk.stop - first
            for offset, frame in enumerate(got):
                assert np.array_equal(frame, reference[first + offset]), (name, chunk_frames, first + offset)
            covered += range(chunk.start, chunk.stop)
        assert covered == list(range(info.frame_count))  # every frame once


def test_a_damaged_file_is_refused_with_where_it_broke_and_the_advised_fix_works(cases, tmp_path):
    path = cases["corrupt.mkv"]
    result = subprocess.run([sys.executable, "-m", "salience", "probe", str(path), "--output",
                             str(tmp_path / "p.json")], capture_output=True, text=True)
    assert result.returncode == 2 and not (tmp_path / "p.json").exists()
    message = result.stderr
    assert str(path) in message and "damaged" in message and "on_decode_error: keep" in message
    assert "frames decoded in all" in message
    with pytest.raises(VideoError, match=r"around \d+\.\d+ s \(after frame \d+\)"):
        video.probe(path)
    # The advice: re-encode with ffmpeg. The result is a clean file.
    fixed = tmp_path / "fixed.mp4"
    ffmpeg("-i", str(path), "-c:v", "libx264", "-crf", "18", str(fixed))
    assert video.probe(fixed).decode_error is None


def test_an_undecodable_codec_is_named_with_how_to_convert(cases, tmp_path):
    avi = tmp_path / "clip.avi"
    ffmpeg("-i", str(cases["sar.mp4"]), "-c", "copy", str(avi))
    unknown = tmp_path / "unknown.avi"
    unknown.write_bytes(avi.read_bytes().replace(b"avc1", b"ZZZZ"))  # a FourCC no decoder knows
    for check in (video.check_readable, video.probe):
        with pytest.raises(VideoError, match=r"codec \(unknown\) has no decoder.*ffmpeg -i in -c:v libx264") as error:
            check(unknown)
        assert str(unknown) in str(error.value)


# --------------------------------------------------------------------------- the workflow


@pytest.mark.slow
def test_workflow_over_every_recording(cases, infos, tmp_path):
    """One real run: the plan comes from the decoded counts; outputs keep the sources' timing."""
    from salience.models import build_model
    from salience.predict import iter_log_density

    config = {"videos": [str(p) for p in cases.values()], "weights": "untrained", "chunk_frames": 7,
              "batch_size": 4, "threads": 1, "on_decode_error": "keep", "render": {"crf": 30}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))

    # Before probing, a dry run lists the probes and no chunk (the checkpoint decides them) ...
    before = planned_jobs(tmp_path)
    assert before["probe_video"] == len(cases) and "predict_chunk" not in before
    snakemake(tmp_path, "--cores", "2", "--until", "probe_video")
    # ... after, every chunk of the decoded count, whatever the headers say.
    planned = sum(len(plan_chunks(info.frame_count, 7)) for info in infos.values())
    assert planned_jobs(tmp_path)["predict_chunk"] == planned
    snakemake(tmp_path, "--cores", "2")

    torch_model = build_model("deepgaze_mr")  # untrained weights are seeded: the jobs' model
    for name, path in cases.items():
        vid, info = Path(name).stem, infos[name]
        results = tmp_path / "results" / vid
        assert video.load_probe(results / "probe.json").pts == info.pts
        maps = zarr.open_group(str(results / "saliency.zarr"), mode="r")["log_density"][:]
        assert maps.shape == (info.frame_count, info.height, info.width), name  # every frame, once
        sequential = np.stack([m for _, m in iter_log_density(torch_model, video.read_frames(path), device="cpu")])
        np.testing.assert_allclose(maps, sequential, atol=1e-5, rtol=0, err_msg=name)

        # one timeline: the store's times and the videos' frames both start at 0 with the first frame
        np.testing.assert_allclose(zarr.open_group(str(results / "saliency.zarr"), mode="r")["time"][:],
                                   np.array(info.timestamps) - info.timestamps[0], atol=1e-12, rtol=0)
        for output in ("heatmap.mp4", "overlay.mp4"):
            out = video.probe(results / output)
            assert out.frame_count == info.frame_count, (name, output)
            np.testing.assert_allclose(out.timestamps, info.times, atol=1e-3, rtol=0, err_msg=f"{name} {output}")
            assert out.vfr == info.vfr and (out.vfr or out.fps == pytest.approx(info.fps, rel=1e-6))
            assert (out.sar, out.rotation) == (info.sar, info.rotation), (name, output)
            assert (out.width, out.height) == info.padded_size, (name, output)
            assert out.has_audio == info.has_audio, (name, output)
            if info.has_audio:  # the same lag between picture and sound; sound before the picture is cut
                assert out.audio_start - out.timestamps[0] == pytest.approx(
                    max(0.0, info.audio_start - info.timestamps[0]), abs=1e-3), (name, output)
