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

import numpy as np

from ..atomic import StagedCSV
from ..errors import SalienceError
from .density import sigma_pixels
from .gaze import timeline_of_store
from .metrics import COLUMNS, METRICS
from .yardsticks import (PREDICTORS, PROFILES, ParticipantMeans, Yardsticks, explained_information_gain,
                         load_by_participant)
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


FRAME_COLUMNS = ("predictor", *COLUMNS)
PARTICIPANT_COLUMNS = ("predictor", "participant", "frames", "points", *METRICS, "center_bias_weight")


def evaluate(store_path, gaze_path, output, *, participants_output=None, pixels_per_degree: float,
             fwhm_degrees: float = 1.0, profile: str = "default", workers: int = 2) -> int:
    """Write ``output`` (metrics.csv: ``FRAME_COLUMNS``) and return the number of frames evaluated.

    Per frame with gaze, a row per predictor (``yardsticks.PREDICTORS``: the
    model, its center bias, the other viewers); ``participants_output``
    (metrics_participants.csv: ``PARTICIPANT_COLUMNS``): each predictor on
    each viewer's points, averaged over that viewer's frames. ``profile``:
    the definitions (``yardsticks.PROFILES``). ``workers`` threads read and
    evaluate frames at once (rows stay in frame order).
    """
    chosen = PROFILES[profile]
    group = open_store(store_path)
    array = group[ARRAY]
    _, height, width = array.shape
    bias = log_center_bias(group, store_path)
    timeline = timeline_of_store(group, store_path)
    gaze = load_by_participant(gaze_path, timeline, width, height)
    sticks = Yardsticks(gaze, bias, sigma_pixels(pixels_per_degree, chosen.sigma_fwhm(fwhm_degrees)),
                        chosen.evaluator)
    if len(gaze.names) < 2:
        log.warning("%s: one participant only (one file, no {participant} in the gaze pattern and no participant "
                    "column): no humans_loo yardstick, which predicts each viewer by the others", gaze_path)
    else:
        log.info("%s: %d viewers; the humans' mixture gives the center bias a weight of %.4f", gaze_path,
                 len(gaze.names), sticks.center_bias_weight)
    frames = gaze.gaze.frames

    def frame_metrics(k):
        log_density = np.asarray(array[int(frames[k])], dtype=np.float32)
        if np.isnan(log_density.flat[0]):  # head: skip leaves whole frames NaN (assembly checked the rest)
            return None
        return sticks.frame(k, log_density)

    rows = 0
    participants = ParticipantMeans()
    with StagedCSV(output, FRAME_COLUMNS) as table:
        for k, result in enumerate(map_ahead(frame_metrics, range(len(frames)), workers=workers)):
            frame = int(frames[k])
            if result is None:
                log.warning("%s: frame %d has no map (NaN); its gaze is not evaluated", store_path, frame)
                continue
            overall, per_participant = result
            for predictor in PREDICTORS:
                if predictor in overall:
                    values = overall[predictor]
                    table.row([predictor, frame, float(timeline.times[frame])] + [values[c] for c in COLUMNS[2:]])
            participants.add(per_participant)
            rows += 1
    if participants_output is not None:
        with StagedCSV(participants_output, PARTICIPANT_COLUMNS) as table:
            for predictor, name, count, points, means in participants.rows(gaze.names):
                weight = sticks.center_bias_weight if predictor == "humans_loo" else ""
                table.row([predictor, name, count, points, *(means[m] for m in METRICS), weight])
    log.info("%s: %d frames evaluated", output, rows)
    return rows


SUMMARY_COLUMNS = ("video", "predictor", "frames", "points", *METRICS, "information_gain_explained",
                   "center_bias_weight")


def _read_frames(path) -> dict:
    """metrics.csv as {predictor: (n_points per frame, metrics per frame (F x M))}."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if "predictor" not in (reader.fieldnames or ()):
            raise SalienceError(f"{os.fspath(path)} has no 'predictor' column (written by an older version): "
                                "delete it and run the workflow again")
        records = list(reader)
    tables = {}
    for predictor in PREDICTORS:
        mine = [r for r in records if r["predictor"] == predictor]
        values = np.array([[float(r[m]) for m in METRICS] for r in mine], np.float64).reshape(-1, len(METRICS))
        tables[predictor] = (np.array([int(r["n_points"]) for r in mine], np.int64), values)
    return tables


def _means(values: np.ndarray) -> list[float]:
    """Column means leaving out NaN (a metric undefined on a frame); NaN where a column has no value."""
    with np.errstate(all="ignore"):
        return [float(np.nanmean(values[:, i])) if np.isfinite(values[:, i]).any() else math.nan
                for i in range(values.shape[1])]


def _center_bias_weight(path) -> float | str:
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["predictor"] == "humans_loo":
                return float(row["center_bias_weight"])
    return ""


def summarize(metrics_files: dict, output, *, participants_files: dict | None = None,
              profile: str = "default") -> None:
    """metrics_summary.csv: per video and predictor the mean over its frames; last rows ``all``.

    The ``all`` rows: by default the mean over videos of their means (frames
    first, then videos, as the DeepGaze MR paper evaluates: a long video
    counts as much as a short one); with a profile that pools frames
    (dhf1k), the mean over all frames of all videos. A metric undefined on a
    frame (sAUC when no other frame has gaze) is left out of its mean.
    ``information_gain_explained``: the predictor's information gain over
    that of the humans (leave one out) on the same video. ``participants_files``
    (video: metrics_participants.csv) give the humans' fitted center-bias weight.
    """
    pool_frames = PROFILES[profile].pool_frames
    rows, pooled = [], {p: [] for p in PREDICTORS}
    for video, path in metrics_files.items():
        weight = _center_bias_weight(participants_files[video]) if participants_files else ""
        for predictor, (points, values) in _read_frames(path).items():
            if not len(points):
                continue
            rows.append([video, predictor, len(points), int(points.sum()), *_means(values),
                         weight if predictor == "humans_loo" else ""])
            pooled[predictor].append(values)
    overall = []
    for predictor in PREDICTORS:
        mine = [r for r in rows if r[1] == predictor]
        if not mine:
            continue
        if pool_frames:
            means = _means(np.concatenate(pooled[predictor]))
        else:
            means = _means(np.array([r[4:4 + len(METRICS)] for r in mine], np.float64))
        overall.append(["all", predictor, sum(r[2] for r in mine), sum(r[3] for r in mine), *means, ""])
    gain = METRICS.index("information_gain_bits") + 4
    with StagedCSV(output, SUMMARY_COLUMNS) as table:
        for row in rows + overall:
            humans = [r for r in rows + overall if r[0] == row[0] and r[1] == "humans_loo"]
            share = explained_information_gain(row[gain], humans[0][gain]) if humans else math.nan
            table.row([*row[:-1], share, row[-1]])
