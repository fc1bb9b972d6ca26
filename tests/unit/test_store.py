"""saliency.zarr as a dataset: sharded, assembled by linking, labelled for xarray, compact storage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from helpers.snakemake import REPO, snakemake
from helpers.videos import make_video, probe_record

import salience
from salience import store
from salience.errors import ConfigError, SalienceError
from salience.settings import Storage

FRAMES, FPS = 24, 25


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def assembled(tmp_path_factory):
    """A 24-frame video in 3 chunks of 8, shards of 4: chunk stores first, then saliency.zarr.

    Returns the workdir and the inode of every shard file of the chunk stores.
    """
    workdir = tmp_path_factory.mktemp("store")
    make_video(workdir / "clip.mp4", frames=FRAMES, size="48x32", fps=FPS)
    (workdir / "config.yaml").write_text(yaml.safe_dump(
        {"videos": ["clip.mp4"], "weights": "untrained", "chunk_frames": 8, "shard_frames": 4, "threads": 1,
         "render": {"crf": 30}}))
    chunks = [f"results/clip/chunks/{a:07d}-{b:07d}.zarr" for a, b in ((0, 8), (8, 16), (16, 24))]
    snakemake(workdir, "--cores", "2", *chunks)
    inodes = {p.stat().st_ino for chunk in chunks for p in files_under(workdir / chunk / "log_density" / "c")}
    snakemake(workdir, "--cores", "2", "results/clip/saliency.zarr")
    return workdir, inodes


@pytest.mark.slow
def test_assembly_links_whole_shards_and_equals_a_sequential_run(assembled, tmp_path):
    workdir, chunk_inodes = assembled
    path = workdir / "results" / "clip" / "saliency.zarr"
    shards = files_under(path / "log_density" / "c")
    assert len(shards) == FRAMES // 4  # one file per 4 frames, not per frame
    others = {str(p.relative_to(path)) for p in files_under(path)} - {str(p.relative_to(path)) for p in shards}
    assert others == {"zarr.json", ".snakemake_timestamp", "log_density/zarr.json",  # a fixed few besides
                      "log_center_bias/zarr.json", "log_center_bias/c/0/0", "frame/zarr.json", "frame/c/0",
                      "time/zarr.json", "time/c/0"}
    assert {p.stat().st_ino for p in shards} == chunk_inodes  # the chunks' own files: moved, not copied
    assert not (workdir / "results" / "clip" / "chunks").exists() or not list(
        (workdir / "results" / "clip" / "chunks").iterdir())

    # the same maps as one job over the whole video
    result = subprocess.run([sys.executable, "-m", "salience", "predict", str(workdir / "clip.mp4"),
                             "--output", str(tmp_path / "one.zarr"), "--weights", "untrained", "--device", "cpu"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(store.open_array(path)[:], store.open_array(tmp_path / "one.zarr")[:],
                               atol=1e-5, rtol=0)


@pytest.mark.slow
def test_xarray_opens_the_workflow_output_labelled(assembled):
    workdir, _ = assembled
    path = workdir / "results" / "clip" / "saliency.zarr"
    assert (path / ".snakemake_timestamp").exists()  # Snakemake's marker stays ...
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ... but no reader lists it: no warning about it
        ds = xr.open_zarr(path, chunks=None)
    assert ds["log_density"].dims == ("frame", "y", "x") and ds["log_density"].shape == (FRAMES, 32, 48)
    assert ds["log_center_bias"].dims == ("y", "x")
    assert list(ds["frame"].values) == list(range(FRAMES))
    probe = json.loads((workdir / "results" / "clip" / "probe.json").read_text())
    expected_times = probe.get("timestamps", np.arange(FRAMES) / FPS)  # real timestamps once probed
    np.testing.assert_allclose(ds["time"].values, expected_times, rtol=0, atol=1e-9)
    assert ds["time"].attrs["units"] == "s" and ds["time"].dims == ("frame",)
    assert ds["log_density"].attrs["units"] == "log(1/pixel)"
    assert ds.attrs["fps"] == FPS and ds.attrs["model"] == "deepgaze_mr" and "timestamps" not in ds.attrs
    np.testing.assert_array_equal(ds["log_density"][7].values, store.open_array(path)[7])


@pytest.mark.slow
def test_salience_open_indexes_by_time(assembled):
    workdir, _ = assembled
    ds = salience.open(workdir / "results" / "clip" / "saliency.zarr")
    at_half_second = ds["log_density"].sel(time=0.5 + 0.01, method="ffill")
    assert int(at_half_second["frame"]) == 12 == salience.frame_at(ds, 0.51)
    assert salience.frame_at(ds, 0.0) == 0 and salience.frame_at(ds, 99.0) == FRAMES - 1
    density = salience.density(ds, 12)
    assert density.shape == (32, 48) and abs(density.sum() - 1) < 1e-4
    np.testing.assert_array_equal(at_half_second.values, ds["log_density"][12].values)
    with pytest.raises(SalienceError, match="no saliency store"):
        salience.open(workdir / "nowhere.zarr")


def smooth_frames(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    maps = []
    for _ in range(count):
        a, b, c = rng.normal(size=3) * 3
        field = a * np.sin(3 * x + b) + c * np.cos(2 * y) - 20 * ((x - 0.5) ** 2 + (y - 0.3) ** 2)
        maps.append(field - np.log(np.exp(field).sum()))
    return np.asarray(maps, np.float32)


def test_quantized_storage_keeps_every_value_within_its_stated_error(tmp_path):
    maps = smooth_frames(10, 40, 64)
    paths = []
    for first, stop in ((0, 6), (6, 10)):
        paths.append(tmp_path / f"{first}.zarr")
        store.write_frames(paths[-1], ((i, maps[i]) for i in range(first, stop)), first=first, count=stop - first,
                           height=40, width=64, attrs={}, storage=Storage(dtype="quantized", shard_frames=3))
    out = tmp_path / "saliency.zarr"
    store.assemble(paths, out, frame_count=10, attrs={"fps": 30.0}, dtype="quantized")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stored = salience.open(out)["log_density"].values
    assert stored.dtype == np.float32
    error = np.abs(stored.astype(np.float64) - maps)
    assert error.max() <= store.QUANTUM / 2 and error.max() > store.QUANTUM / 8
    np.testing.assert_array_equal(stored / store.QUANTUM, np.round(stored / store.QUANTUM))
    for index, frame in enumerate(stored):
        store.check_frame(frame, index, out)


def test_frames_are_checked_when_written(tmp_path):
    frames = smooth_frames(3, 8, 8)
    frames[1] += 0.1  # not normalized
    with pytest.raises(SalienceError, match="frame 1 is not a normalized"):
        store.write_frames(tmp_path / "c.zarr", enumerate(frames), first=0, count=3, height=8, width=8, attrs={})
    assert list(tmp_path.iterdir()) == []


def test_assembly_refuses_chunks_that_split_a_shard(tmp_path):
    maps = smooth_frames(10, 8, 8)
    paths = []
    for first, stop in ((0, 5), (5, 10)):
        paths.append(tmp_path / f"{first}.zarr")
        store.write_frames(paths[-1], ((i, maps[i]) for i in range(first, stop)), first=first, count=stop - first,
                           height=8, width=8, attrs={}, storage=Storage(shard_frames=4))
    with pytest.raises(SalienceError, match="not whole shards of 4 frames"):
        store.assemble(paths, tmp_path / "s.zarr", frame_count=10, attrs={"fps": 1.0})
    assert not (tmp_path / "s.zarr").exists()
    assert len(files_under(paths[0] / "log_density" / "c")) == 2  # the chunk stores are untouched


def test_shard_size_divides_the_chunk_size():
    assert store.shard_frames_for(300, 20) == 20
    assert store.shard_frames_for(250, 20) == 10
    assert store.shard_frames_for(7, 20) == 7  # a chunk shorter than a shard: one shard per chunk
    with pytest.raises(ConfigError, match="use chunk_frames 980 or 1000"):
        store.shard_frames_for(997, 20)  # a prime: one file per frame otherwise


# --- no leftovers after hard kills ------------------------------------------------------------

KILL_AFTER_FIRST_CHUNK = """
import os, signal, sys
from salience import store
from salience.__main__ import main
link = store._link_shards
def link_then_die(*args):
    link(*args)
    os.kill(os.getpid(), signal.SIGKILL)  # a hard kill in the middle of assembly
store._link_shards = link_then_die
main(sys.argv[1:])
"""


def hidden(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_a_killed_assembly_leaves_nothing_after_a_rerun(tmp_path):
    maps = smooth_frames(9, 8, 8)
    chunks_dir = tmp_path / "chunks"
    paths = []
    for first, stop in ((0, 4), (4, 8), (8, 9)):
        paths.append(chunks_dir / f"{first:07d}-{stop:07d}.zarr")
        store.write_frames(paths[-1], ((i, maps[i]) for i in range(first, stop)), first=first, count=stop - first,
                           height=8, width=8, attrs={}, storage=Storage(shard_frames=2))
    unplanned = chunks_dir / "0000000-0000009.zarr"  # a chunk of an older plan
    store.write_frames(unplanned, enumerate(maps), first=0, count=9, height=8, width=8, attrs={})
    probe_record(tmp_path / "probe.json", frames=9, size="8x8", fps=10)
    args = ["assemble", *map(str, paths), "--probe", str(tmp_path / "probe.json"),
            "--chunks-dir", str(chunks_dir), "--output", str(tmp_path / "saliency.zarr")]

    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_CHUNK, *args], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert [name.endswith(".partial") for name in hidden(tmp_path)] == [True]  # what a kill leaves
    assert not (tmp_path / "saliency.zarr").exists()

    rerun = subprocess.run([sys.executable, "-m", "salience", *args], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert hidden(tmp_path) == [] and hidden(chunks_dir) == []
    assert sorted(p.name for p in chunks_dir.iterdir()) == sorted(p.name for p in paths)  # the unplanned one gone
    np.testing.assert_array_equal(store.open_array(tmp_path / "saliency.zarr")[:], maps)


def test_a_killed_render_leaves_nothing_after_a_rerun(tmp_path):
    frames, height, width = 150, 120, 160
    video = make_video(tmp_path / "clip.mp4", frames=frames, size=f"{width}x{height}")
    store.write_frames(tmp_path / "s.zarr", enumerate(smooth_frames(frames, height, width)), first=0,
                       count=frames, height=height, width=width, attrs={"fps": 25.0})
    probe = subprocess.run([sys.executable, "-m", "salience", "probe", str(video), "--output", str(tmp_path / "p.json")],
                           capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    command = [sys.executable, "-m", "salience", "render-segment", str(tmp_path / "s.zarr"), "--probe",
               str(tmp_path / "p.json"), "--start", "0", "--stop", str(frames),
               "--heatmap", str(tmp_path / "heatmap.mp4"), "--overlay", str(tmp_path / "overlay.mp4")]
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not [p for p in tmp_path.glob(".heatmap.mp4.*.partial.mp4") if p.stat().st_size > 0]:
        assert process.poll() is None, process.stderr.read()  # still rendering when killed
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)  # python and its ffmpeg processes
    process.wait()
    assert ".partial.mp4" in " ".join(hidden(tmp_path)) and not (tmp_path / "heatmap.mp4").exists()

    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert hidden(tmp_path) == []
    assert (tmp_path / "heatmap.mp4").stat().st_size > 0 and (tmp_path / "overlay.mp4").stat().st_size > 0


def test_a_live_writers_temporary_is_never_removed(tmp_path):
    """A concurrent job's temporary of the same output survives another job's cleanup."""
    from salience.atomic import StagedDir, remove_stale

    script = ("import sys, time; from salience.atomic import StagedDir\n"
              "with StagedDir(sys.argv[1]) as staged:\n    print(staged.temp, flush=True); time.sleep(60)\n")
    live = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "out.zarr")], stdout=subprocess.PIPE,
                            text=True)
    try:
        temp = live.stdout.readline().strip()
        with StagedDir(tmp_path / "out.zarr"):  # cleans stale temporaries of out.zarr first
            assert os.path.isdir(temp)
        assert remove_stale(str(tmp_path), "out.zarr", ".partial") == [] and os.path.isdir(temp)
    finally:
        live.kill()
        live.wait()
    assert remove_stale(str(tmp_path), "out.zarr", ".partial") == [temp]  # dead: now stale
    assert hidden(tmp_path) == []


@pytest.mark.slow
def test_the_documented_example_runs_on_the_workflow_output(assembled):
    workdir, _ = assembled
    page = (REPO / "docs" / "outputs.md").read_text()
    section = page[page.index("## Use the maps in Python"):]
    example = section[section.index("```python\n") + len("```python\n"):]
    example = example[:example.index("```")]
    path = str(workdir / "results" / "clip" / "saliency.zarr")
    namespace = {}
    exec(example.replace("results/sample/saliency.zarr", path), namespace)  # noqa: S102 - the docs' own code
    assert namespace["frame"].dims == ("y", "x") and int(namespace["frame"]["frame"]) == 12  # 0.5 s at 25 fps
    assert abs(namespace["density"].sum() - 1) < 1e-4
