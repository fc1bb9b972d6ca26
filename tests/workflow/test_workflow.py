"""The real Snakemake workflow, end to end, on tiny generated videos (untrained weights)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import zarr
from helpers.snakemake import REPO, command, planned_jobs, snakemake, write_config
from helpers.videos import ffmpeg, make_video, stream_info


pytestmark = pytest.mark.slow

FRAMES, SIZE, FPS = 30, "48x32", 25


def log_density(workdir: Path, video: str = "clip") -> np.ndarray:
    return zarr.open_group(str(workdir / "results" / video / "saliency.zarr"), mode="r")["log_density"][:]



@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One complete run: 30 frames with audio, chunks of 7 (5 predict jobs)."""
    workdir = tmp_path_factory.mktemp("run")
    make_video(workdir / "clip.mp4", frames=FRAMES, size=SIZE, fps=FPS, audio=True)
    write_config(workdir)
    snakemake(workdir, "--cores", "2")
    return workdir


def test_every_output_is_complete(finished_run):
    results = finished_run / "results" / "clip"
    group = zarr.open_group(str(results / "saliency.zarr"), mode="r")
    array = group["log_density"]
    assert array.shape == (FRAMES, 32, 48) and array.dtype == np.float32 and array.chunks == (1, 32, 48)
    attrs = dict(group.attrs)
    assert attrs["fps"] == FPS and attrs["frame_count"] == FRAMES
    assert attrs["model"] == "deepgaze_mr" and attrs["head"] == "partial"
    assert attrs["weights"] == "untrained" and attrs["weights_sha256"] == "untrained"
    assert attrs["chunk_frames"] == 7 and attrs["precision"] == "fp32"
    maps = array[:]
    assert np.isfinite(maps).all()
    log_center_bias = group["log_center_bias"][:]  # the one every chunk used (untrained: uniform)
    assert log_center_bias.shape == (32, 48)
    np.testing.assert_allclose(log_center_bias, -np.log(32 * 48), atol=1e-5)
    total = np.log(np.exp(maps.astype(np.float64)).sum(axis=(1, 2)))
    np.testing.assert_allclose(total, 0, atol=1e-4)  # every frame a normalized log-density

    for name in ("heatmap.mp4", "overlay.mp4"):
        capture = cv2.VideoCapture(str(results / name))
        count = 0
        while capture.read()[0]:
            count += 1
        assert count == FRAMES, name
        assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
        assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (48, 32)
        info = stream_info(results / name)
        assert "h264" in info and "yuv420p" in info and "Audio: aac" in info, info

    pngs = sorted((results / "heatmap_png").glob("frame_*"))
    npys = sorted((results / "log_density_npy").glob("frame_*"))
    assert [p.name for p in pngs] == [f"frame_{i:06d}.png" for i in range(FRAMES)]
    assert len(npys) == FRAMES
    np.testing.assert_array_equal(np.load(npys[17]), maps[17])
    # no temporary leftovers anywhere, and no second copy of the maps
    assert not [p for p in finished_run.rglob("*partial*")]
    assert not list((results / "chunks").glob("*.zarr"))


def test_no_audio_in_source_gives_none_in_outputs(tmp_path):
    make_video(tmp_path / "silent.mp4", frames=8, size=SIZE)
    write_config(tmp_path, videos=["silent.mp4"], chunk_frames=8, export={})
    snakemake(tmp_path, "--cores", "2")
    for name in ("heatmap.mp4", "overlay.mp4"):
        assert "Audio:" not in stream_info(tmp_path / "results" / "silent" / name)


def test_chunk_size_does_not_change_the_result(finished_run, tmp_path):
    shutil.copy(finished_run / "clip.mp4", tmp_path / "clip.mp4")
    write_config(tmp_path, chunk_frames=FRAMES, export={})
    snakemake(tmp_path, "--cores", "2", "results/clip/saliency.zarr")
    assert len(list((tmp_path / "logs" / "clip" / "predict_chunk").glob("*.log"))) == 1
    np.testing.assert_allclose(log_density(tmp_path), log_density(finished_run), atol=1e-5, rtol=0)


def test_dry_run_lists_every_chunk_job_once_probed(tmp_path):
    make_video(tmp_path / "a.mp4", frames=30, size=SIZE)
    make_video(tmp_path / "b.mkv", frames=20, size=SIZE)
    write_config(tmp_path, videos=["*.mp4", "b.mkv"], chunk_frames=7)
    jobs = planned_jobs(tmp_path)  # before probing: the checkpoint decides the chunks
    assert jobs["probe_video"] == 2 and jobs["assemble_zarr"] == 2 and jobs["download_weights"] == 1
    assert "predict_chunk" not in jobs
    snakemake(tmp_path, "--cores", "2", "--until", "probe_video")
    assert planned_jobs(tmp_path)["predict_chunk"] == 5 + 3


def test_reruns_follow_the_config(finished_run, tmp_path):
    workdir = tmp_path / "rerun"
    shutil.copytree(finished_run, workdir, symlinks=True)
    assert planned_jobs(workdir) == {}

    write_config(workdir, render={"opacity": 0.8})
    jobs = planned_jobs(workdir)
    # snapshots: overlay frames of the report (one of them on its first page, the overview)
    assert set(jobs) == {"render_segment", "join_videos", "snapshots", "overview", "all"}
    assert jobs["render_segment"] == 5

    write_config(workdir, batch_size=2, device="cpu")  # no effect on the maps
    assert planned_jobs(workdir) == {}

    write_config(workdir, head="pad")
    jobs = planned_jobs(workdir)
    assert jobs["predict_chunk"] == 5 and jobs["assemble_zarr"] == 1 and jobs["join_videos"] == 1

    write_config(workdir, chunk_frames=10)
    assert planned_jobs(workdir)["predict_chunk"] == 3

    write_config(workdir, store_dtype="float16")  # chunks hold it too: prediction reruns
    jobs = planned_jobs(workdir)
    assert jobs["predict_chunk"] == 5 and jobs["assemble_zarr"] == 1

    np.save(workdir / "cb.npy", np.ones((3, 4)) / 12)
    write_config(workdir, center_bias="cb.npy")  # in the weights record: prediction reruns
    jobs = planned_jobs(workdir)
    assert jobs["download_weights"] == 1 and jobs["predict_chunk"] == 5


def test_killed_run_resumes_and_keeps_finished_chunks(finished_run, tmp_path):
    shutil.copy(finished_run / "clip.mp4", tmp_path / "clip.mp4")
    write_config(tmp_path, chunk_frames=5, export={})
    chunks = tmp_path / "results" / "clip" / "chunks"
    process = subprocess.Popen(command(tmp_path, "--cores", "1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            done = list(chunks.glob("*.zarr")) if chunks.exists() else []
            if len(done) >= 2:
                break
            time.sleep(0.2)
        else:
            pytest.fail("two chunks did not finish in time")
        time.sleep(1.0)  # let the next chunk job get under way
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    finished = {p.name: p.stat().st_mtime_ns for p in chunks.glob("*.zarr")}
    assert 2 <= len(finished) < 6
    for name in finished:  # whatever looks complete is complete
        store = zarr.open_group(str(chunks / name), mode="r")["log_density"]
        assert np.isfinite(store[:]).all(), name
    assert not (tmp_path / "results" / "clip" / "saliency.zarr").exists()

    snakemake(tmp_path, "--unlock")  # a SIGKILLed snakemake leaves its lock (docs/how-it-works.md)
    # Finished chunks are kept. A chunk whose store was renamed into place in
    # the instant before the kill may not have been recorded as finished by
    # Snakemake, which then asks for --rerun-incomplete (the profiles set it)
    # and redoes that one chunk.
    planned = planned_jobs(tmp_path, "--rerun-incomplete")["predict_chunk"]
    assert 6 - len(finished) <= planned <= 6 - len(finished) + 1
    snakemake(tmp_path, "--cores", "2", "--rerun-incomplete")
    np.testing.assert_allclose(log_density(tmp_path), log_density(finished_run), atol=1e-5, rtol=0)
    assert not [p for p in tmp_path.rglob("*partial*")]
    assert not list(chunks.glob("*.zarr"))  # temporary: gone once saliency.zarr holds them


def expect_early_failure(workdir: Path, *needles: str) -> None:
    result = snakemake(workdir, "--dry-run", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for needle in needles:
        assert needle in output, output


def test_missing_video_fails_early(tmp_path):
    write_config(tmp_path, videos=["nowhere/missing.mp4"])
    expect_early_failure(tmp_path, "missing.mp4", "does not exist")


def test_glob_matching_nothing_fails_early(tmp_path):
    write_config(tmp_path, videos=["*.mov"])
    expect_early_failure(tmp_path, "'*.mov'", "matches no file")


def test_non_video_file_fails_early(tmp_path):
    (tmp_path / "notes.mp4").write_text("these are my notes, not a video\n")
    write_config(tmp_path, videos=["notes.mp4"])
    expect_early_failure(tmp_path, "notes.mp4")


def test_zero_frame_video_fails_early(tmp_path):
    ffmpeg("-f", "lavfi", "-i", "sine", "-t", "1", str(tmp_path / "empty.mp4"))  # audio, no video
    write_config(tmp_path, videos=["empty.mp4"])
    expect_early_failure(tmp_path, "empty.mp4", "no video stream")


@pytest.mark.parametrize("override, needle", [
    ({"chunk_frames": 0}, "chunk_frames"),
    ({"head": "sometimes"}, "sometimes"),
    ({"model": "deepgaze_iv"}, "deepgaze_iv"),
    ({"chunk_size": 100}, "chunk_size"),  # a misspelt key is not silently ignored
])
def test_schema_violation_fails_early(tmp_path, override, needle):
    make_video(tmp_path / "clip.mp4", frames=5, size=SIZE)
    write_config(tmp_path, **override)
    expect_early_failure(tmp_path, needle)


def test_missing_center_bias_stops_the_run_even_after_a_completed_one(finished_run, tmp_path):
    workdir = tmp_path / "typo"
    shutil.copytree(finished_run, workdir, symlinks=True)
    write_config(workdir, center_bias="centre_bias.npy")
    expect_early_failure(workdir, "centre_bias.npy", "config 'center_bias'")


@pytest.mark.parametrize("content, needles", [
    (np.ones((4, 4, 3)), ("2-D", "config 'center_bias'")),
    (-np.ones((4, 4)), ("negative",)),
    (np.full((4, 4), np.nan), ("NaN",)),
    ("0.1 0.2\n", ("not a readable center bias", ".npy array")),
])
def test_bad_center_bias_file_fails_early(tmp_path, content, needles):
    make_video(tmp_path / "clip.mp4", frames=5, size=SIZE)
    if isinstance(content, str):
        (tmp_path / "cb.npy").write_text(content)
    else:
        np.save(tmp_path / "cb.npy", content)
    write_config(tmp_path, center_bias="cb.npy")
    expect_early_failure(tmp_path, "cb.npy", *needles)


def test_bad_weights_path_fails_early(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=5, size=SIZE)
    write_config(tmp_path, weights="deepgazemr-ledov.pt")
    expect_early_failure(tmp_path, "deepgazemr-ledov.pt does not exist", "config 'weights'")
    (tmp_path / "deepgazemr-ledov.pt").write_text("<html>404: Not Found</html>")
    expect_early_failure(tmp_path, "is not a PyTorch checkpoint", "config 'weights'")


def test_center_bias_with_zero_pixels_gives_finite_maps(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=4, size=SIZE)
    density = np.ones((8, 12))
    density[:, :3] = 0.0  # a map that rules the left edge out
    np.save(tmp_path / "cb.npy", density / density.sum())
    write_config(tmp_path, center_bias="cb.npy", chunk_frames=4, export={})
    snakemake(tmp_path, "--cores", "2", "results/clip/saliency.zarr")
    maps = log_density(tmp_path)
    assert np.isfinite(maps).all()
    assert maps[:, :, :4].max() < maps[:, :, 20:].min()  # the floor: far less likely, not -inf


def test_lint_is_clean(finished_run):
    result = snakemake(finished_run, "--lint")
    assert "Congratulations" in result.stdout + result.stderr


def test_rules_are_snakefmt_formatted():
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "rules"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_weights_record_and_cli_steps_by_hand(finished_run):
    record = json.loads((finished_run / "results" / "weights" / "deepgaze_mr.json").read_text())
    assert record == {"format": 1, "model": "deepgaze_mr", "weights": "untrained",
                      "center_bias": "default", "files": {}, "weights_sha256": "untrained"}
    probe = json.loads((finished_run / "results" / "clip" / "probe.json").read_text())
    assert probe["frame_count"] == FRAMES and probe["has_audio"]


@pytest.mark.parametrize("model, store_dtype", [("deepgaze_iie", "float16"), ("deepgaze_iii", "float32")])
def test_image_models_run_through_the_workflow(tmp_path, model, store_dtype):
    make_video(tmp_path / "clip.mp4", frames=4, size="128x96", audio=True)
    write_config(tmp_path, model=model, chunk_frames=2, export={"npy": True}, store_dtype=store_dtype)
    snakemake(tmp_path, "--cores", "1", "--until", "probe_video")
    jobs = planned_jobs(tmp_path)
    assert jobs["predict_chunk"] == 2  # per-frame models: chunks without warm-up overlap
    snakemake(tmp_path, "--cores", "2", "--notemp")  # --notemp keeps the chunk stores to inspect
    group = zarr.open_group(str(tmp_path / "results" / "clip" / "saliency.zarr"), mode="r")
    maps = group["log_density"][:]
    assert maps.shape == (4, 96, 128) and np.isfinite(maps).all()
    assert maps.dtype == np.dtype(store_dtype) and group.attrs["store_dtype"] == store_dtype
    normalization = np.log(np.exp(maps.astype(np.float64)).sum(axis=(1, 2)))
    np.testing.assert_allclose(normalization, 0, atol=1e-4 if store_dtype == "float32" else 1e-3)
    assert group.attrs["model"] == model and "head" not in group.attrs
    chunk = zarr.open_group(str(tmp_path / "results" / "clip" / "chunks" / "0000002-0000004.zarr"), mode="r")
    assert chunk["log_density"].shape == (2, 96, 128) and chunk["log_density"].dtype == np.dtype(store_dtype)
    for name in ("heatmap.mp4", "overlay.mp4"):
        assert "h264" in stream_info(tmp_path / "results" / "clip" / name)
