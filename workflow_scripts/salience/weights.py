"""Official checkpoints: where they live, how to fetch them, how to trust them.

Every file is downloaded once into a cache directory (``$SALIENCE_CACHE``, else
``<torch hub dir>/salience``). Its sha256 is recorded beside it on download and
checked on every later load, so a corrupted or swapped file is caught. Files
served from a git repository are also checked against their git blob id, which
is known before the first download. A local path can always stand in for a
download (compute nodes often have no internet).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .atomic import write_text
from .errors import WeightsError


@dataclass(frozen=True)
class WeightFile:
    """One published file: a checkpoint or a center bias."""

    key: str
    filename: str
    url: str
    description: str
    sha256: str | None = None  # pinned when known; else recorded on download
    git_blob_sha1: str | None = None  # id of the file in its git repository


_MR_REPO = "https://github.com/mtangemann/deepgazemr/raw/master/data"
_DEEPGAZE_RELEASES = "https://github.com/matthias-k/DeepGaze/releases/download"

OFFICIAL_FILES = {
    f.key: f
    for f in [
        WeightFile(
            key="deepgaze_mr",
            filename="deepgazemr-ledov.pt",
            url=f"{_MR_REPO}/deepgazemr-ledov.pt",
            description="DeepGaze MR trained on LEDOV (Tangemann et al., ECCV 2020); "
            "dict with 'model_state_dict', VGG19 included",
            git_blob_sha1="c871bf5f68425c596f90dc8e9cc6fbca6e9d9b8b",
        ),
        WeightFile(
            key="centerbias_ledov",
            filename="center-bias-ledov.pt",
            url=f"{_MR_REPO}/center-bias-ledov.pt",
            description="LEDOV center bias: H x W probability map (torch tensor)",
            git_blob_sha1="d28729b8c69029a54da26b60dc6064de03255bdb",
        ),
    ]
}


def register(weight_file: WeightFile) -> None:
    """Add a file to the registry (used by the model modules)."""
    OFFICIAL_FILES[weight_file.key] = weight_file


def cache_dir() -> Path:
    """Where downloads go: ``$SALIENCE_CACHE``, else the torch hub cache."""
    if os.environ.get("SALIENCE_CACHE"):
        return Path(os.environ["SALIENCE_CACHE"]).expanduser()
    import torch.hub

    return Path(torch.hub.get_dir()) / "salience"


def sha256sum(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_sha1(path: str | Path) -> str:
    """The id git gives this file's content (sha1 of 'blob <size>\\0' + content)."""
    digest = hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode())
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _by_hand_hint(weight_file: WeightFile, target: Path) -> str:
    return (
        f"Download {weight_file.url} by hand and either put it at {target} "
        f"or give its path instead of 'official' (config key 'weights')."
    )


def _check_published_ids(weight_file: WeightFile, path: Path) -> str:
    """Check ``path`` against every id published for it; return its sha256."""
    sha256 = sha256sum(path)
    if weight_file.sha256 and sha256 != weight_file.sha256:
        raise WeightsError(
            f"{path}: sha256 {sha256} differs from the published {weight_file.sha256} "
            f"for {weight_file.url}. The file is corrupt or not the official one. "
            + _by_hand_hint(weight_file, path)
        )
    if weight_file.git_blob_sha1 and git_blob_sha1(path) != weight_file.git_blob_sha1:
        raise WeightsError(
            f"{path}: content differs from the official file {weight_file.url} "
            f"(git blob id {weight_file.git_blob_sha1}). The file is corrupt or "
            "not the official one. " + _by_hand_hint(weight_file, path)
        )
    return sha256


def downloads_allowed() -> bool:
    """False when ``$SALIENCE_OFFLINE`` is 1: compute jobs must find files in the cache."""
    return os.environ.get("SALIENCE_OFFLINE", "0") != "1"


def fetch(key: str, *, download: bool | None = None, progress: bool = True) -> Path:
    """Path of official file ``key`` in the cache, downloading it if needed.

    A cached file is checked against the sha256 recorded when it was
    downloaded. With ``download=False`` a missing file is an error that says
    how to provide it.
    """
    try:
        weight_file = OFFICIAL_FILES[key]
    except KeyError:
        raise WeightsError(
            f"no official file named {key!r}; known: {', '.join(sorted(OFFICIAL_FILES))}"
        ) from None
    target = cache_dir() / weight_file.filename
    record = _sha256_record(target)
    if download is None:
        download = downloads_allowed()
    if target.exists():
        if record.exists():
            recorded = record.read_text().split()[0]
            actual = sha256sum(target)
            if actual != recorded:
                raise WeightsError(
                    f"{target}: sha256 {actual} differs from {recorded} recorded at "
                    f"download ({record}). Delete both files to download again. "
                    + _by_hand_hint(weight_file, target)
                )
        else:  # placed by hand: check what is published, then record it
            _record_sha256(target, _check_published_ids(weight_file, target))
        return target
    if not download:
        raise WeightsError(
            f"{weight_file.key} is not in the cache ({target}). Run "
            f"'python -m salience download {weight_file.key}' on a machine with "
            "internet (the workflow's download rule does this on the submit host). "
            + _by_hand_hint(weight_file, target)
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _download(weight_file, target, progress=progress)
    return target


def _download(weight_file: WeightFile, target: Path, *, progress: bool) -> None:
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".part")
    os.close(handle)
    partial = Path(partial)
    try:
        try:
            with urllib.request.urlopen(weight_file.url, timeout=60) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with open(partial, "wb") as out:
                    _copy_with_progress(response, out, total, weight_file.filename, progress)
        except OSError as error:  # URLError, HTTPError, timeouts are OSErrors
            raise WeightsError(
                f"downloading {weight_file.url} failed: {error}. "
                + _by_hand_hint(weight_file, target)
            ) from error
        sha256 = _check_published_ids(weight_file, partial)
        os.replace(partial, target)  # atomic: no half-written checkpoint in the cache
        _record_sha256(target, sha256)
    finally:
        partial.unlink(missing_ok=True)


def _sha256_record(target: Path) -> Path:
    """``<file>.sha256`` beside a cached file (sha256sum's format), checked on every later load."""
    return target.with_name(target.name + ".sha256")


def _record_sha256(target: Path, sha256: str) -> None:
    write_text(_sha256_record(target), f"{sha256}  {target.name}\n")


def _copy_with_progress(source, destination, total, label, progress):
    if not progress:
        shutil.copyfileobj(source, destination, 1 << 20)
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, desc=label) as bar:
        for block in iter(lambda: source.read(1 << 20), b""):
            destination.write(block)
            bar.update(len(block))


def resolve(weights: str | Path, key: str, *, download: bool | None = None) -> Path:
    """``weights`` is "official" (the cached download of ``key``) or a path."""
    if str(weights) == "official":
        return fetch(key, download=download)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"weights file {path} does not exist. Give the path of a downloaded "
            f"checkpoint, or 'official' to download {OFFICIAL_FILES[key].url}."
        )
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint's tensors without executing code (``weights_only``)."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and torch errors alike
        raise WeightsError(
            f"{path} is not a readable PyTorch checkpoint ({error}). Download it "
            "again or check the path."
        ) from error
