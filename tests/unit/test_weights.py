"""salience.weights: the download step resolves every file, prediction reads only its record.

Downloads come from a loopback server that serves files made here under the
official URLs' paths (tests/official_files.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers.official_files import git_blob_id, serve, write_official_files

from salience import weights
from salience.errors import ConfigError, WeightsError
from salience.models import MODELS, build_model, describe
from salience.models.center_bias import ZERO_PIXEL_FLOOR, log_density_from_probability
from salience.models.checkpoint import check_checkpoint_path

REPO_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SALIENCE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def mr_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    return root, write_official_files(root, "deepgaze_mr")


def pin_mr(monkeypatch, files):
    """The stand-ins cannot have the official git blob ids: pin theirs (in this process)."""
    d = MODELS["deepgaze_mr"]
    monkeypatch.setitem(MODELS, "deepgaze_mr", dataclasses.replace(
        d,
        checkpoint=dataclasses.replace(d.checkpoint, git_blob_sha1=git_blob_id(files["checkpoint"])),
        center_bias=dataclasses.replace(d.center_bias, git_blob_sha1=git_blob_id(files["center_bias"])),
    ))


def test_schema_model_enum_is_the_registry():
    schema = yaml.safe_load(REPO_SCHEMA.read_text())
    assert schema["properties"]["model"]["enum"] == list(MODELS)
    assert schema["properties"]["model"]["default"] in MODELS


def test_every_model_is_fully_described():
    for name, d in MODELS.items():
        assert d.name == name and d.temporal_window >= 1 and d.seconds_per_megapixel_frame > 0
        for f in (d.checkpoint, d.center_bias):
            assert f.url.startswith("https://github.com/") and f.licence
            assert f.filename == f.url.rsplit("/", 1)[1]
        model = build_model(name) if name == "deepgaze_mr" else None  # one build is enough here
        if model is not None:
            assert model.window_length == d.temporal_window
    assert describe("deepgaze_mr").checkpoint.pinned  # git blob ids, known in advance
    assert not describe("deepgaze_iie").checkpoint.pinned  # release assets: recorded on first download


def test_registry_imports_without_torch():
    code = ("import sys, salience.models, salience.plan, salience.config_checks, salience.weights;"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_official_download_records_and_verifies(cache, mr_files, monkeypatch):
    root, files = mr_files
    pin_mr(monkeypatch, files)
    with serve(root) as base:
        monkeypatch.setenv("SALIENCE_WEIGHTS_MIRROR", base)
        record = weights.resolve("deepgaze_mr", "official", "default", progress=False)
    assert set(record["files"]) == {"checkpoint", "center_bias"}
    for role, entry in record["files"].items():
        assert entry["sha256"] == hashlib.sha256(files[role].read_bytes()).hexdigest()
        assert entry["path"].startswith(str(cache)) and entry["source"].startswith("https://github.com/")
    assert record["weights_sha256"] == record["files"]["checkpoint"]["sha256"]
    cached = cache / "deepgazemr-ledov.pt"
    assert cached.with_name(cached.name + ".sha256").read_text().split()[0] == record["weights_sha256"]
    umask = os.umask(0)
    os.umask(umask)
    assert cached.stat().st_mode & 0o777 == 0o666 & ~umask  # readable by the group, as any file it writes

    # Later: no server at all, the cache answers; a changed cached file is refused.
    monkeypatch.setenv("SALIENCE_WEIGHTS_MIRROR", "http://127.0.0.1:9")
    assert weights.resolve("deepgaze_mr", "official", "default", progress=False) == record
    path = cache.parent / "record.json"
    weights.write_record(path, record)
    assert weights.read_record(path) == record
    cached.write_bytes(cached.read_bytes() + b"!")
    with pytest.raises(WeightsError, match="changed since it was recorded"):
        weights.read_record(path)
    with pytest.raises(WeightsError, match="recorded at download"):
        weights.resolve("deepgaze_mr", "official", "default", progress=False)


def test_wrong_digest_is_refused_and_nothing_is_cached(cache, mr_files, monkeypatch):
    root, _ = mr_files  # the official git blob ids stay pinned: the stand-in cannot match
    with serve(root) as base:
        monkeypatch.setenv("SALIENCE_WEIGHTS_MIRROR", base)
        with pytest.raises(WeightsError, match="not the official one") as error:
            weights.resolve("deepgaze_mr", "official", "default", progress=False)
    message = str(error.value)
    assert f"{base}" not in message.split("by hand")[1]  # the hint names the real URL
    assert describe("deepgaze_mr").checkpoint.url in message and "'weights'" in message
    assert not cache.exists() or not any(cache.iterdir())  # neither the file nor a partial one


def test_interrupted_download_is_a_clear_error(cache, mr_files, monkeypatch):
    root, files = mr_files
    pin_mr(monkeypatch, files)
    cut = "/" + str(files["checkpoint"].relative_to(root))
    with serve(root, cut_short={cut}) as base:
        monkeypatch.setenv("SALIENCE_WEIGHTS_MIRROR", base)
        with pytest.raises(WeightsError, match="interrupted|failed") as error:
            weights.resolve("deepgaze_mr", "official", "default", progress=False)
    assert "deepgazemr-ledov.pt" in str(error.value)
    assert not list(cache.iterdir())  # no partial file left behind


def test_offline_default_center_bias_names_the_center_bias_key(cache, tmp_path, monkeypatch):
    checkpoint = tmp_path / "mine.pt"
    torch.save(build_model("deepgaze_mr").state_dict(), checkpoint)
    monkeypatch.setenv("SALIENCE_WEIGHTS_MIRROR", "http://127.0.0.1:9")  # nothing listens
    with pytest.raises(WeightsError, match="config 'center_bias'") as error:
        weights.resolve("deepgaze_mr", str(checkpoint), "default", progress=False)
    assert "center-bias-ledov.pt" in str(error.value) and "'uniform'" in str(error.value)
    record = weights.resolve("deepgaze_mr", str(checkpoint), "uniform", progress=False)
    assert list(record["files"]) == ["checkpoint"] and record["files"]["checkpoint"]["source"] == "local"


def test_local_checkpoints_missing_and_text_files(tmp_path):
    model = build_model("deepgaze_mr")
    path = tmp_path / "mine.pt"
    torch.save(model.state_dict(), path)  # a bare state dict works too
    loaded = build_model("deepgaze_mr", weights=path)
    assert torch.equal(loaded.readout.conv1.weight, model.readout.conv1.weight)
    with pytest.raises(WeightsError, match="does not exist .*config 'weights'"):
        check_checkpoint_path(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(WeightsError, match="is not a PyTorch checkpoint"):
        build_model("deepgaze_mr", weights=tmp_path / "junk.pt")


def test_record_of_another_format_is_refused(tmp_path):
    (tmp_path / "old.json").write_text(json.dumps({"model": "deepgaze_mr", "files": {}}))
    with pytest.raises(WeightsError, match="rerun the download step"):
        weights.read_record(tmp_path / "old.json")


@pytest.mark.parametrize("array, needle", [
    (np.ones((4, 4, 3)), "2-D"),
    (-np.ones((4, 4)), "negative"),
    (np.full((4, 4), np.nan), "NaN"),
    (np.zeros((4, 4)), "sums to 0"),
])
def test_bad_center_bias_files_are_refused(tmp_path, array, needle):
    from salience.models.center_bias import check_center_bias_file

    np.save(tmp_path / "cb.npy", array)
    with pytest.raises(ConfigError, match=needle) as error:
        check_center_bias_file(tmp_path / "cb.npy")
    assert "center_bias" in str(error.value) and str(tmp_path / "cb.npy") in str(error.value)


def test_pickled_and_text_center_biases_are_refused(tmp_path):
    from salience.models.center_bias import check_center_bias_file

    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "text.npy").write_text("0.1 0.2\n0.3 0.4\n")
    for name in ("objects.npy", "text.npy"):
        with pytest.raises(ConfigError, match="not a readable center bias"):
            check_center_bias_file(tmp_path / name)


def test_zero_pixels_get_the_documented_floor():
    cb = np.ones((4, 4))
    cb[0, 0] = 0
    log_cb = log_density_from_probability(cb, 4, 4)
    assert torch.isfinite(log_cb).all()
    assert torch.logsumexp(log_cb.flatten(), 0).item() == pytest.approx(0, abs=1e-6)
    # the zero pixel: one millionth of the uniform density (before renormalizing)
    assert log_cb[0, 0].item() == pytest.approx(np.log(ZERO_PIXEL_FLOOR / 16), abs=1e-5)


def test_prediction_interface_is_a_protocol():
    from salience.models.interface import PerFrameModel, WindowModel, model_kind

    mr = build_model("deepgaze_mr")
    assert model_kind(mr) is WindowModel and mr.window_length == describe("deepgaze_mr").temporal_window
    assert model_kind(build_model("deepgaze_iii")) is PerFrameModel
    with pytest.raises(TypeError, match="neither a window model"):
        model_kind(torch.nn.Linear(2, 2))
