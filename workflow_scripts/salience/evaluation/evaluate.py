"""Evaluate a saliency store against human gaze: metrics.csv per video, a summary over videos.

Streams: only frames with gaze are read, one store chunk (frame) per task;
a few frames are read and evaluated at once on worker threads (the zarr
codecs and numpy release the GIL). Memory: a few frames plus the gaze
table, whatever the video's length.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import numpy as np
import zarr

from ..atomic import staged_file
from ..errors import SalienceError
from .density import sigma_pixels
from .gaze import load_gaze, timeline_of_store
from .metrics import COLUMNS, METRICS, VideoEvaluator
from ..store import CENTER_BIAS

log = logging.getLogger(__name__)

READ_AHEAD = 4  # frames decoded ahead of the metrics


def open_store(path):
    """A saliency store's group (read only), checked to hold a (T, H, W) ``log_density``."""
    path = os.fspath(path)
    try:
        group = zarr.open_group(path, mode="r")
        array = group["log_density"]
    except (FileNotFoundError, KeyError) as error:
        raise SalienceError(f"{path}: no saliency store with a 'log_density' array here. "
                            "Run the prediction step first.") from error
    if array.ndim != 3:
        raise SalienceError(f"{path}: 'log_density' must be (T, H, W), got shape {array.shape}")
    return group


def log_center_bias(group, path) -> np.ndarray:
    """The store's ``log_center_bias`` (H x W), the prior the model used; needed for IG and sAUC."""
    if CENTER_BIAS not in group:
        raise SalienceError(
            f"{os.fspath(path)} has no '{CENTER_BIAS}' array (made before stores carried the model's "
            "center bias). Re-run its assembly: delete it and run the workflow again "
            "(or `snakemake --forcerun assemble_zarr`).")
    bias = np.asarray(group[CENTER_BIAS][:], dtype=np.float64)
    if bias.shape != group["log_density"].shape[1:]:
        raise SalienceError(f"{os.fspath(path)}: '{CENTER_BIAS}' is {bias.shape}, frames are "
                            f"{group['log_density'].shape[1:]}")
    return bias


def map_ahead(func, items, *, workers: int = 1, ahead: int = READ_AHEAD):
    """Yield ``func(item)`` for each item, in order, computed on ``workers`` threads at most ``ahead`` in advance.

    numpy and the zarr codecs release the GIL, so threads use several cores;
    ``ahead`` bounds the results held at once.
    """
    with ThreadPoolExecutor(workers, "salience-eval") as pool:
        pending = deque()
        items = iter(items)
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) >= ahead:
                break
        while pending:
            result = pending.popleft().result()
            item = next(items, _END)
            if item is not _END:
                pending.append(pool.submit(func, item))
            yield result


_END = object()


def read_frames_ahead(array, indices, ahead: int = READ_AHEAD):
    """Yield ``array[i]`` as float32 for each i, reading up to ``ahead`` frames in advance."""
    return map_ahead(lambda index: np.asarray(array[index], dtype=np.float32), indices, ahead=ahead)


class AtomicCSV:
    """A CSV written row by row under a temporary name, renamed into place on success."""

    def __init__(self, path, header):
        with ExitStack() as stack:  # a failure here unwinds what was opened
            temp = stack.enter_context(staged_file(path))
            handle = stack.enter_context(open(temp, "w", newline=""))
            self.writer = csv.writer(handle, lineterminator="\n")
            self.writer.writerow(header)
            self._outputs = stack.pop_all()  # closed (file first, then renamed) by __exit__

    def row(self, values) -> None:
        self.writer.writerow([_cell(v) for v in values])

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        return self._outputs.__exit__(exc_type, exc, traceback)


def _cell(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def evaluate(store_path, gaze_path, output, *, pixels_per_degree: float, fwhm_degrees: float = 1.0,
             workers: int = 2) -> int:
    """Write ``output`` (metrics.csv: ``metrics.COLUMNS``), one row per frame with gaze; return the row count.

    ``workers`` threads read and evaluate frames at once (rows stay in frame order).
    """
    group = open_store(store_path)
    array = group["log_density"]
    _, height, width = array.shape
    bias = log_center_bias(group, store_path)
    timeline = timeline_of_store(group, store_path)
    gaze = load_gaze(gaze_path, timeline, width, height)
    evaluator = VideoEvaluator(gaze, bias, sigma_pixels(pixels_per_degree, fwhm_degrees))
    def frame_metrics(k):
        log_density = np.asarray(array[int(gaze.frames[k])], dtype=np.float32)
        if np.isnan(log_density.flat[0]):  # head: skip leaves whole frames NaN (assembly checked the rest)
            return None
        return evaluator.frame(k, log_density)

    rows = 0
    with AtomicCSV(output, COLUMNS) as table:
        for k, values in enumerate(map_ahead(frame_metrics, range(len(gaze.frames)), workers=workers)):
            frame = int(gaze.frames[k])
            if values is None:
                log.warning("%s: frame %d has no map (NaN); its gaze is not evaluated", store_path, frame)
                continue
            table.row([frame, float(timeline.times[frame])] + [values[c] for c in COLUMNS[2:]])
            rows += 1
    log.info("%s: %d frames evaluated", output, rows)
    return rows


SUMMARY_COLUMNS = ("video", "frames", "points", *METRICS)


def summarize(metrics_files: dict, output) -> None:
    """metrics_summary.csv: per video the mean over its frames; last row ``all``, the mean over videos.

    Frames first, then videos (as the DeepGaze MR paper evaluates): a long
    video counts as much as a short one. A metric undefined on a frame (sAUC
    when no other frame has gaze) is left out of that frame's mean.
    """
    rows = []
    for video, path in metrics_files.items():
        with open(path, newline="") as handle:
            records = list(csv.DictReader(handle))
        values = np.array([[float(r[m]) for m in METRICS] for r in records], dtype=np.float64).reshape(-1, len(METRICS))
        with np.errstate(all="ignore"):
            means = [float(np.nanmean(values[:, i])) if np.isfinite(values[:, i]).any() else math.nan
                     for i in range(len(METRICS))]
        rows.append([video, len(records), sum(int(r["n_points"]) for r in records), *means])
    with AtomicCSV(output, SUMMARY_COLUMNS) as table:
        for row in rows:
            table.row(row)
        if rows:
            per_video = np.array([row[3:] for row in rows], dtype=np.float64)
            with np.errstate(all="ignore"):
                overall = [float(np.nanmean(per_video[:, i])) if np.isfinite(per_video[:, i]).any() else math.nan
                           for i in range(len(METRICS))]
            table.row(["all", sum(r[1] for r in rows), sum(r[2] for r in rows), *overall])
