"""Model files: download once, verify, and record what prediction must load (loading: ``models.checkpoint``).

The download step (:func:`resolve`, run by the ``download_weights`` rule on
the submit host) resolves every file a model needs (its checkpoint and its
center bias, official or local) and writes a *weights record*: a JSON file
with each file's absolute path and sha256. Prediction reads exactly that
record (:func:`read_record`), checks every sha256, and never downloads or
looks anywhere else.

Official files go into a cache directory (``$SALIENCE_CACHE``, else
``<torch hub dir>/salience``) with their sha256 beside them
(``<file>.sha256``). Files tracked in a git repository are checked against
their git blob id, known before the first download. GitHub release assets
(DeepGaze IIE/III and the MIT1003 center bias) publish no digest: their
sha256 is recorded at the first download and checked on every later use.

``$SALIENCE_WEIGHTS_MIRROR`` (e.g. ``http://mirror.local``) replaces the
``https://github.com`` prefix of the official URLs: a site mirror that keeps
GitHub's paths (the tests serve one on loopback). The digests still apply.

A cluster admin pre-fills the cache by copying the published files into
``$SALIENCE_CACHE`` under their published names: each is checked against
its published ids at its first use and its sha256 recorded beside it.

Why not ``pooch``: its check is one digest of a file's bytes, but the
DeepGaze MR files are pinned by git blob ids and the GitHub release assets
publish no digest at all (their sha256 is recorded at the first download),
so these checks stay here whatever fetches the bytes; it does not resume an
interrupted download either (a retry fetches the whole file again, as here);
and the fetch itself is one streamed HTTP GET. It would add two
dependencies (pooch, requests) for what ``urllib`` and ``atomic`` already do.
Downloads happen once, on the submit host (``download_weights``).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import urllib.request
from pathlib import Path

from .atomic import StagedFile, write_json, write_text
from .errors import WeightsError
from .models.checkpoint import check_checkpoint_path

RECORD_FORMAT = 1
_GITHUB = "https://github.com"


def cache_dir() -> Path:
    """Where downloads go: ``$SALIENCE_CACHE``, else the torch hub cache."""
    if os.environ.get("SALIENCE_CACHE"):
        return Path(os.environ["SALIENCE_CACHE"]).expanduser()
    import torch.hub

    return Path(torch.hub.get_dir()) / "salience"


def download_url(official) -> str:
    """The URL to fetch ``official`` from: its own, or the same path on the mirror."""
    mirror = os.environ.get("SALIENCE_WEIGHTS_MIRROR", "").rstrip("/")
    if mirror and official.url.startswith(_GITHUB + "/"):
        return mirror + official.url[len(_GITHUB):]
    return official.url


def sha256sum(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_cached(path: str | Path, cache_dir: str | Path) -> str:
    """``sha256sum(path)``, remembered in ``cache_dir`` while the file stays the same file.

    The DAG build takes the digest of every local file the config names (a
    checkpoint can be hundreds of MB), each time. A file counts as unchanged
    while its inode, size, modification and change times are: copying
    another file over it, even with ``cp -p``, changes its change time.
    """
    stat = os.stat(path)
    key = f"{os.path.abspath(path)}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}"
    memo = Path(cache_dir) / hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()
    try:
        digest = memo.read_text().strip()
        if len(digest) == 64:
            return digest
    except OSError:
        pass
    digest = sha256sum(path)
    write_text(memo, digest + "\n")
    return digest


def git_blob_sha1(path: str | Path) -> str:
    """The id git gives this file's content (sha1 of 'blob <size>\\0' + content)."""
    digest = hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode())
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _by_hand_hint(official, target: Path, config_key: str) -> str:
    return (
        f"Download {official.url} by hand and put it at {target}, or set config "
        f"'{config_key}' to the path of a local file"
        + (" (or to 'uniform')." if config_key == "center_bias" else ".")
        + " To try the workflow without these files: 'weights: untrained' "
        "(--config weights=untrained; random weights, the maps mean nothing)."
    )


def _check_published_ids(official, path: Path, config_key: str) -> str:
    """Check ``path`` against every id published for it; return its sha256."""
    sha256 = sha256sum(path)
    if official.sha256 and sha256 != official.sha256:
        raise WeightsError(
            f"{path}: sha256 {sha256} differs from the published {official.sha256} "
            f"of {official.url}: the file is corrupt or not the official one. "
            + _by_hand_hint(official, path, config_key)
        )
    if official.git_blob_sha1 and git_blob_sha1(path) != official.git_blob_sha1:
        raise WeightsError(
            f"{path}: content differs from the official file {official.url} "
            f"(git blob id {official.git_blob_sha1}): the file is corrupt or "
            "not the official one. " + _by_hand_hint(official, path, config_key)
        )
    return sha256


def _sha256_record(target: Path) -> Path:
    """``<file>.sha256`` beside a cached file (sha256sum's format)."""
    return target.with_name(target.name + ".sha256")


def fetch(official, *, config_key: str = "weights", progress: bool = True) -> Path:
    """Path of official file ``official`` in the cache, downloaded and verified if missing.

    A cached file is checked against the sha256 recorded when it came;
    ``config_key`` is the config key a user would change instead (named in errors).
    """
    target = cache_dir() / official.filename
    record = _sha256_record(target)
    if target.exists():
        if record.exists():
            recorded = record.read_text().split()[0]
            actual = sha256sum(target)
            if actual != recorded:
                raise WeightsError(
                    f"{target}: sha256 {actual} differs from {recorded} recorded at "
                    f"download ({record}). Delete both files to download again. "
                    + _by_hand_hint(official, target, config_key)
                )
        else:  # placed by hand: check what is published, then record it
            write_text(record, f"{_check_published_ids(official, target, config_key)}  {target.name}\n")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _download(official, target, config_key, progress=progress)
    return target


def _download(official, target: Path, config_key: str, *, progress: bool) -> None:
    url = download_url(official)
    # Staged beside the target (normal permissions, a lock marking it live):
    # the cache only ever holds whole, checked files.
    with StagedFile(target) as staged:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with open(staged.temp, "wb") as out:
                    received = _copy(response, out, total, official.filename, progress)
            if total is not None and received != total:
                raise WeightsError(
                    f"downloading {url} was interrupted: {received} of {total} bytes arrived. "
                    "Run again to retry. " + _by_hand_hint(official, target, config_key)
                )
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, cut connections
            raise WeightsError(
                f"downloading {url} failed ({error}). " + _by_hand_hint(official, target, config_key)
            ) from error
        sha256 = _check_published_ids(official, Path(staged.temp), config_key)
    write_text(_sha256_record(target), f"{sha256}  {target.name}\n")


def _copy(source, destination, total, label, progress) -> int:
    received = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, desc=label)
    try:
        for block in iter(lambda: source.read(1 << 20), b""):
            destination.write(block)
            received += len(block)
            if bar is not None:
                bar.update(len(block))
    finally:
        if bar is not None:
            bar.close()
    return received


# --- the weights record ------------------------------------------------------------

def _entry(path: Path, source: str, file_format: str) -> dict:
    return {"path": str(path.resolve()), "sha256": sha256sum(path), "source": source,
            "format": file_format}


def resolve(model: str, weights: str, center_bias: str, *, progress: bool = True) -> dict:
    """The weights record of a run: every file ``model`` needs, fetched and checked.

    ``weights``: "official", "untrained" or a checkpoint path. ``center_bias``:
    "default" (the model's official one; none for untrained weights),
    "uniform", or a probability-map file. The checkpoint is loaded into the
    model and the center bias checked here, so a bad file fails on the
    submit host, not on a GPU node.
    """
    from .models import build_model, describe
    from .models.center_bias import check_center_bias_file, load_center_bias

    description = describe(model)
    files = {}
    if weights == "official":
        path = fetch(description.checkpoint, config_key="weights", progress=progress)
        files["checkpoint"] = _entry(path, description.checkpoint.url, description.checkpoint.format)
    elif weights != "untrained":
        path = check_checkpoint_path(weights)
        files["checkpoint"] = _entry(path, "local", description.checkpoint.format)
    if center_bias == "default" and weights != "untrained":
        official = description.center_bias
        try:
            path = fetch(official, config_key="center_bias", progress=progress)
        except WeightsError as error:
            raise WeightsError(f"center_bias 'default' of {model} is {official.filename}: {error}") from None
        files["center_bias"] = _entry(path, official.url, official.format)
    elif center_bias not in ("default", "uniform"):
        path = check_center_bias_file(center_bias)
        files["center_bias"] = _entry(path, "local", "probability_map")
    record = {
        "format": RECORD_FORMAT, "model": model, "weights": weights, "center_bias": center_bias,
        "files": files,
        "weights_sha256": files["checkpoint"]["sha256"] if "checkpoint" in files else "untrained",
    }
    if "checkpoint" in files:
        build_model(model, weights=files["checkpoint"]["path"])
    if "center_bias" in files:
        load_center_bias(files["center_bias"]["path"], files["center_bias"]["format"])
    return record


def write_record(path: str | Path, record: dict) -> None:
    write_json(path, record)


def read_record(path: str | Path) -> dict:
    """A weights record, each of its files checked against its recorded sha256."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise WeightsError(f"weights record {path} is unreadable ({error}); rerun the download step") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise WeightsError(
            f"{path} is not a weights record of format {RECORD_FORMAT}; rerun the download step "
            "(python -m salience download, or delete it and rerun snakemake)."
        )
    for role, entry in record["files"].items():
        file = Path(entry["path"])
        if not file.is_file():
            raise WeightsError(
                f"{file} ({role} in {path}) is gone; rerun the download step, or make the file "
                "reachable from this machine (a cache on a shared file system)."
            )
        if sha256sum(file) != entry["sha256"]:
            raise WeightsError(
                f"{file} ({role} in {path}) changed since it was recorded (sha256 differs); "
                "rerun the download step."
            )
    return record
