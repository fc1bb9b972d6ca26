"""Evaluate a saliency store against human gaze: metrics.csv (and per participant) per video, summaries.

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
from contextlib import ExitStack

import numpy as np

from ..atomic import StagedCSV
from ..errors import SalienceError
from .density import sigma_pixels
from .gaze import load_gaze_by_participant, pooled, timeline_of_store
from .metrics import COLUMNS, METRICS, VideoEvaluator
from ..background import map_ahead
from ..store import ARRAY, CENTER_BIAS, open_store

log = logging.getLogger(__name__)

def log_center_bias(group, path) -> np.ndarray:
    """The store's ``log_center_bias`` (H x W), the prior the model used; needed for IG and sAUC."""
    if CENTER_BIAS not in group:
        raise SalienceError(
            f"{os.fspath(path)} has no '{CENTER_BIAS}' array (made before stores carried the model's "
            "center bias). Re-run its assembly: delete it and run the workflow again "
            "(or `snakemake --forcerun assemble_zarr`).")
    bias = np.asarray(group[CENTER_BIAS][:], dtype=np.float64)
    if bias.shape != group[ARRAY].shape[1:]:
        raise SalienceError(f"{os.fspath(path)}: '{CENTER_BIAS}' is {bias.shape}, frames are "
                            f"{group[ARRAY].shape[1:]}")
    return bias


BY_PARTICIPANT_COLUMNS = ("participant", *COLUMNS)


def evaluate(store_path, gaze_path, output, *, pixels_per_degree: float, fwhm_degrees: float = 1.0,
             workers: int = 2, by_participant=None) -> int:
    """Write ``output`` (metrics.csv: ``metrics.COLUMNS``), one row per frame with gaze; return the row count.

    The points of all participants together make each frame's metrics.
    ``by_participant``: also write this CSV (``BY_PARTICIPANT_COLUMNS``), the
    same metrics of each participant's own points, one row per participant
    and frame with their gaze (sAUC's negatives: their own points on other
    frames). ``workers`` threads read and evaluate frames at once (rows stay
    in frame order).
    """
    group = open_store(store_path)
    array = group[ARRAY]
    _, height, width = array.shape
    bias = log_center_bias(group, store_path)
    timeline = timeline_of_store(group, store_path)
    parts = load_gaze_by_participant(gaze_path, timeline, width, height)
    gaze = pooled(parts, len(timeline.times), width, height)
    log.info("%s: %d participants, %d points on %d frames", gaze_path, len(parts), gaze.n_points, len(gaze.frames))
    sigma = sigma_pixels(pixels_per_degree, fwhm_degrees)
    evaluator = VideoEvaluator(gaze, bias, sigma)
    per_participant = {}
    if by_participant is not None:
        for who, mine in parts.items():
            per_participant[who] = (VideoEvaluator(mine, bias, sigma), {int(f): k for k, f in enumerate(mine.frames)})

    def frame_metrics(k):
        frame = int(gaze.frames[k])
        log_density = np.asarray(array[frame], dtype=np.float32)
        if np.isnan(log_density.flat[0]):  # head: skip leaves whole frames NaN (assembly checked the rest)
            return None
        mine = {who: ev.frame(index[frame], log_density) for who, (ev, index) in per_participant.items()
                if frame in index}
        return evaluator.frame(k, log_density), mine

    rows = 0
    with ExitStack() as outputs:
        table = outputs.enter_context(StagedCSV(output, COLUMNS))
        people = outputs.enter_context(StagedCSV(by_participant, BY_PARTICIPANT_COLUMNS)) \
            if by_participant is not None else None
        for k, result in enumerate(map_ahead(frame_metrics, range(len(gaze.frames)), workers=workers)):
            frame = int(gaze.frames[k])
            if result is None:
                log.warning("%s: frame %d has no map (NaN); its gaze is not evaluated", store_path, frame)
                continue
            values, mine = result
            time = float(timeline.times[frame])
            table.row([frame, time] + [values[c] for c in COLUMNS[2:]])
            for who, theirs in mine.items():
                people.row([who, frame, time] + [theirs[c] for c in COLUMNS[2:]])
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
    with StagedCSV(output, SUMMARY_COLUMNS) as table:
        for row in rows:
            table.row(row)
        if rows:
            per_video = np.array([row[3:] for row in rows], dtype=np.float64)
            with np.errstate(all="ignore"):
                overall = [float(np.nanmean(per_video[:, i])) if np.isfinite(per_video[:, i]).any() else math.nan
                           for i in range(len(METRICS))]
            table.row(["all", sum(r[1] for r in rows), sum(r[2] for r in rows), *overall])


PARTICIPANT_SUMMARY_COLUMNS = ("video", "participant", "frames", "points", *METRICS)


def summarize_participants(files: dict, output) -> None:
    """One row per video and participant: the mean of each metric over the participant's frames.

    ``files``: video id -> its metrics_by_participant.csv.
    """
    with StagedCSV(output, PARTICIPANT_SUMMARY_COLUMNS) as table:
        for video, path in files.items():
            with open(path, newline="") as handle:
                records = list(csv.DictReader(handle))
            for who in dict.fromkeys(r["participant"] for r in records):
                mine = [r for r in records if r["participant"] == who]
                values = np.array([[float(r[m]) for m in METRICS] for r in mine], dtype=np.float64)
                with np.errstate(all="ignore"):
                    means = [float(np.nanmean(values[:, i])) if np.isfinite(values[:, i]).any() else math.nan
                             for i in range(len(METRICS))]
                table.row([video, who, len(mine), sum(int(r["n_points"]) for r in mine), *means])
