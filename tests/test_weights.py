"""salience.weights: download once, verify, record sha256, local paths, clear errors.

Downloads come from a server on loopback that serves files made here.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest
import torch

from salience import weights
from salience.errors import WeightsError
from salience.models import build_model

CONTENT = b"pretend checkpoint bytes " * 100


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SALIENCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SALIENCE_OFFLINE", raising=False)
    # test entries go into a copy of the registry
    monkeypatch.setattr(weights, "OFFICIAL_FILES", dict(weights.OFFICIAL_FILES))
    return tmp_path / "cache"


@pytest.fixture()
def server(tmp_path):
    """A loopback HTTP server for the files in tmp_path/served; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def register(key, url, **ids):
    weights.register(weights.WeightFile(key=key, filename=f"{key}.bin", url=url, description="test", **ids))


def blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def test_download_records_sha256_and_later_loads_verify(cache, server):
    served, base = server
    (served / "good.bin").write_bytes(CONTENT)
    register("test_good", f"{base}/good.bin", git_blob_sha1=blob_id(CONTENT))
    path = weights.fetch("test_good", progress=False)
    assert path.read_bytes() == CONTENT and path.parent == cache
    record = path.with_name(path.name + ".sha256").read_text().split()[0]
    assert record == hashlib.sha256(CONTENT).hexdigest()

    (served / "good.bin").unlink()  # a second fetch must not download again
    assert weights.fetch("test_good", progress=False) == path

    path.write_bytes(CONTENT[:-1] + b"!")  # corrupted in the cache
    with pytest.raises(WeightsError, match="differs from .* recorded at download"):
        weights.fetch("test_good", progress=False)


def test_wrong_content_is_refused_and_not_cached(cache, server):
    served, base = server
    (served / "bad.bin").write_bytes(b"an html error page")
    register("test_bad", f"{base}/bad.bin", git_blob_sha1=blob_id(CONTENT))
    with pytest.raises(WeightsError, match=f"{base}/bad.bin") as error:
        weights.fetch("test_bad", progress=False)
    assert "by hand" in str(error.value)
    assert not cache.exists() or not list(cache.iterdir())


def test_failed_download_names_url_and_target(cache, server):
    _, base = server
    register("test_missing", f"{base}/missing.bin")
    with pytest.raises(WeightsError, match="missing.bin") as error:
        weights.fetch("test_missing", progress=False)
    assert str(cache / "test_missing.bin") in str(error.value)
    assert not list(cache.iterdir())  # no partial file left


def test_offline_cache_miss_says_what_to_do(cache, monkeypatch):
    register("test_offline", "http://127.0.0.1:9/never.bin")
    monkeypatch.setenv("SALIENCE_OFFLINE", "1")
    with pytest.raises(WeightsError, match="python -m salience download"):
        weights.fetch("test_offline")


def test_file_placed_by_hand_is_checked_against_published_id(cache):
    register("test_by_hand", "http://127.0.0.1:9/by_hand.bin", git_blob_sha1=blob_id(CONTENT))
    cache.mkdir()
    (cache / "test_by_hand.bin").write_bytes(b"something else")
    with pytest.raises(WeightsError, match="not the official one"):
        weights.fetch("test_by_hand", download=False)
    (cache / "test_by_hand.bin").write_bytes(CONTENT)
    assert weights.fetch("test_by_hand", download=False).read_bytes() == CONTENT


def test_local_path_and_missing_path(tmp_path):
    model = build_model("deepgaze_mr")
    path = tmp_path / "mine.pt"
    torch.save(model.state_dict(), path)  # a bare state dict works too
    loaded = build_model("deepgaze_mr", weights=path)
    assert torch.equal(loaded.readout.conv1.weight, model.readout.conv1.weight)
    with pytest.raises(WeightsError, match="does not exist"):
        build_model("deepgaze_mr", weights=tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="not a readable PyTorch checkpoint"):
        build_model("deepgaze_mr", weights=tmp_path / "junk.pt")


def test_official_files_are_described():
    for key in ("deepgaze_mr", "centerbias_ledov"):
        entry = weights.OFFICIAL_FILES[key]
        assert entry.url.startswith("https://") and (entry.sha256 or entry.git_blob_sha1)
