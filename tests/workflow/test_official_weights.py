"""`weights: official` end to end for every model, and local files offline.

A loopback server serves each model's files in the authors' formats
(untrained weights) under the official URLs' paths; ``$SALIENCE_WEIGHTS_MIRROR``
points the real download code at it. The real ``snakemake`` runs the
download rule, prediction reads only the weights record, and the store
records what was used. Then the same model runs with local files and no
server at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import zarr
from helpers.official_files import git_blob_id, pin_shim, serve, write_official_files
from helpers.snakemake import REPO, snakemake, write_config
from helpers.videos import make_video

from salience.models import describe

pytestmark = pytest.mark.slow

# (size, frames): one prediction job each; rendering is not run (weights do not reach it)
SIZES = {"deepgaze_mr": ("48x32", 3), "deepgaze_iie": ("128x96", 1), "deepgaze_iii": ("128x96", 1)}
STORE = "results/clip/saliency.zarr"


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def configure(workdir, model, **overrides):
    size, frames = SIZES[model]
    make_video(workdir / "clip.mp4", frames=frames, size=size)
    write_config(workdir, {"videos": ["clip.mp4"], "model": model, "weights": "official", "chunk_frames": frames,
                           "threads": 1}, **overrides)


def environment(tmp_path, mirror, pins=None) -> dict:
    """Jobs inherit this: the cache, the mirror, and (MR) the stand-ins' pinned ids."""
    shim = pin_shim(tmp_path / "shim")
    env = dict(os.environ, SALIENCE_CACHE=str(tmp_path / "cache"), SALIENCE_WEIGHTS_MIRROR=mirror,
               PYTHONPATH=os.pathsep.join([str(shim), str(REPO / "workflow_scripts")]))
    if pins:
        env["SALIENCE_TEST_PINS"] = json.dumps(pins)
    return env


@pytest.mark.parametrize("model", list(SIZES))
def test_official_weights_then_local_files_offline(tmp_path, model):
    served = tmp_path / "served"
    files = write_official_files(served, model)
    pins = {model: {role: git_blob_id(path) for role, path in files.items()}} if model == "deepgaze_mr" else None

    # 1. weights: official, through the server
    run = tmp_path / "official"
    run.mkdir()
    configure(run, model)
    with serve(served) as base:
        env = environment(tmp_path, base, pins)
        snakemake(run, "--cores", "2", STORE, env=env)
    record = json.loads((run / "results" / "weights" / f"{model}.json").read_text())
    assert record["model"] == model and record["weights"] == "official"
    for role, path in files.items():
        entry = record["files"][role]
        assert entry["sha256"] == sha256(path) and entry["path"].startswith(str(tmp_path / "cache"))
        cached = tmp_path / "cache" / path.name
        assert (cached.with_name(cached.name + ".sha256")).read_text().split()[0] == sha256(path)
    # The download step by hand, server gone: the cache answers, checked against
    # the sha256 recorded at the first download.
    result = subprocess.run([sys.executable, "-m", "salience", "download", "--model", model,
                             "--weights", "official", "--output", str(tmp_path / "by_hand.json")],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "by_hand.json").read_text()) == record
    group = zarr.open_group(str(run / "results" / "clip" / "saliency.zarr"), mode="r")
    maps = group["log_density"][:]
    assert np.isfinite(maps).all()
    assert group.attrs["weights_sha256"] == sha256(files["checkpoint"]) == record["weights_sha256"]
    assert group.attrs["weights_files"]["center_bias"]["sha256"] == sha256(files["center_bias"])
    if model == "deepgaze_mr":  # the maps are those of the served checkpoint and center bias
        expected = predicted_in_process(files, run / "clip.mp4")
        np.testing.assert_allclose(maps, expected, atol=1e-5, rtol=0)

    # 2. local checkpoint and center bias, no server, an empty cache: nothing is fetched
    offline = tmp_path / "offline"
    offline.mkdir()
    density = np.ones((9, 16))
    density[3:6, 6:10] = 4.0
    np.save(offline / "my_center_bias.npy", density / density.sum())
    configure(offline, model, weights=str(files["checkpoint"]), center_bias="my_center_bias.npy")
    env = environment(tmp_path / "elsewhere", "http://127.0.0.1:9")  # nothing listens there
    snakemake(offline, "--cores", "2", STORE, env=env)
    assert not (tmp_path / "elsewhere" / "cache").exists()
    group = zarr.open_group(str(offline / "results" / "clip" / "saliency.zarr"), mode="r")
    assert np.isfinite(group["log_density"][:]).all()
    assert group.attrs["weights_files"]["checkpoint"]["source"] == "local"
    assert group.attrs["weights_files"]["center_bias"]["path"] == str(offline / "my_center_bias.npy")


def predicted_in_process(files, video):
    from salience.models import build_model
    from salience.models.center_bias import load_center_bias
    from salience.predict import iter_log_density
    from salience.video import read_frames

    model = build_model("deepgaze_mr", weights=files["checkpoint"])
    center_bias = load_center_bias(files["center_bias"], "probability_map")
    return np.stack([m for _, m in iter_log_density(model, read_frames(video), center_bias=center_bias,
                                                     device="cpu")])


def test_failed_download_says_why_on_the_console(tmp_path):
    """The console, not only the log, carries the reason and the offline trial."""
    (tmp_path / "empty").mkdir()
    configure(tmp_path, "deepgaze_mr")
    with serve(tmp_path / "empty") as base:  # answers every request with 404
        result = snakemake(tmp_path, "--cores", "1", "results/weights/deepgaze_mr.json",
                           env=environment(tmp_path, base), check=False)
    assert result.returncode != 0
    url = describe("deepgaze_mr").checkpoint.url
    error = next((line for line in result.stderr.splitlines() if line.startswith("error: downloading")), None)
    assert error is not None, result.stderr
    assert "404" in error and f"Download {url} by hand" in error and "--config weights=untrained" in error
    assert error in (tmp_path / "logs" / "download_weights" / "deepgaze_mr.log").read_text()
    assert not (tmp_path / "results" / "weights" / "deepgaze_mr.json").exists()
