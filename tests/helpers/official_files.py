"""The authors' files in their published formats, with untrained weights, served on loopback.

``serve(root)`` runs an HTTP server whose paths are those of the official
URLs (``https://github.com/<path>`` → ``http://127.0.0.1:<port>/<path>``);
``$SALIENCE_WEIGHTS_MIRROR`` points the real download code at it.
``write_official_files(root, model)`` writes a model's checkpoint and center
bias there in the official formats: DeepGaze MR's checkpoint dict and LEDOV
tensor, the IIE/III ``.pth`` state dicts and MIT1003's ``.npy`` log-density.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import torch

from salience.models import build_model, describe

GITHUB = "https://github.com"


def served_path(root: Path, url: str) -> Path:
    assert url.startswith(GITHUB + "/"), url
    return root / url[len(GITHUB) + 1:]


def _gaussian(height: int, width: int, sigma: float) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    return -((ys - (height - 1) / 2) ** 2 + (xs - (width - 1) / 2) ** 2) / (2 * sigma**2)


def write_official_files(root: Path, model: str) -> dict[str, Path]:
    """Checkpoint and center bias of ``model`` (untrained, official formats) under ``root``."""
    description = describe(model)
    checkpoint = served_path(root, description.checkpoint.url)
    center_bias = served_path(root, description.center_bias.url)
    for path in (checkpoint, center_bias):
        path.parent.mkdir(parents=True, exist_ok=True)
    state = build_model(model).state_dict()
    if description.checkpoint.format == "checkpoint_dict":  # MR: the training script's dict
        torch.save({"model_state_dict": state, "epoch": 7}, checkpoint)
    else:  # IIE, III: a plain state dict
        torch.save(state, checkpoint)
    if description.center_bias.format == "probability_map":  # LEDOV: a torch tensor of probabilities
        density = np.exp(_gaussian(90, 160, 30.0))
        torch.save(torch.from_numpy(density / density.sum()).float(), center_bias)
    else:  # MIT1003: 1024 x 1024 log-density, numpy
        log_density = _gaussian(1024, 1024, 200.0)
        np.save(center_bias, log_density - np.log(np.exp(log_density).sum()))
    return {"checkpoint": checkpoint, "center_bias": center_bias}


def git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


class _Handler(http.server.SimpleHTTPRequestHandler):
    cut_short: set[str] = set()  # URL paths whose transfer stops half-way

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path not in self.cut_short:
            return super().do_GET()
        data = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True


@contextlib.contextmanager
def serve(root: Path, cut_short: set[str] = frozenset()):
    """Serve ``root`` on loopback; yields the base URL (use it as the mirror)."""
    handler = functools.partial(type("Handler", (_Handler,), {"cut_short": set(cut_short)}),
                                directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


SITECUSTOMIZE = '''\
# Written by tests/official_files.py: the untrained stand-ins for DeepGaze MR's
# files cannot have the official git blob ids, so every process of this test
# run pins the stand-ins' ids instead. Everything else is the real code path.
import dataclasses, json, os

_pins = json.loads(os.environ.get("SALIENCE_TEST_PINS", "{{}}"))
if _pins:
    import salience.models as _models

    for _name, _ids in _pins.items():
        _d = _models.MODELS[_name]
        _models.MODELS[_name] = dataclasses.replace(
            _d,
            checkpoint=dataclasses.replace(_d.checkpoint, git_blob_sha1=_ids["checkpoint"]),
            center_bias=dataclasses.replace(_d.center_bias, git_blob_sha1=_ids["center_bias"]),
        )
'''


def pin_shim(folder: Path) -> Path:
    """A folder with the ``sitecustomize`` above, to put on ``PYTHONPATH``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE.format())
    return folder
