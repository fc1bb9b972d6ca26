"""Saliency metrics of one frame: a model's density against human gaze points.

Definitions (p: the model's density of the frame, renormalized in float64 so
that it sums to 1 even for float16 stores; b: the model's center bias, sums
to 1; g: the empirical density of the frame's points, ``density.EmpiricalDensity``;
points at integer pixels; N = H*W pixels):

- ``log_likelihood_bits``: mean over points of log2 p[y,x] + log2 N (bits per
  point over a uniform map, DeepGaze's convention).
- ``information_gain_bits``: mean over points of log2 p[y,x] - log2 b[y,x].
- ``NSS``: mean over points of (p[y,x] - mean p) / std p (ddof 0), as
  pysaliency's ``metrics.NSS`` on the density.
- ``AUC_Judd``: P(p at a point > p at a pixel) + 0.5 P(equal), all pixels
  as negatives (pysaliency's ``roc.general_roc``).
- ``sAUC``: the same on s = log p - log b, positives at the frame's points,
  negatives at the points of all other frames of the video (shuffled AUC for
  probabilistic models, Kümmerer et al. 2018).
- ``CC``: Pearson correlation of p and g; ``KLDiv``: sum of
  g ln(eps + g / (p + eps)), eps = 2.2204e-16 (MIT/Tübingen benchmark,
  pysaliency's ``MIT_KLDiv``); ``SIM``: sum of min(p, g).

Everything is vectorized, and the full-frame work is a few passes over the
frame: g is zero outside the points' Gaussian patches, so CC, KLDiv and SIM
need p only there; AUC ranks on the log-density itself (exp is monotonic).
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np

from .density import EmpiricalDensity
from .gaze import GazeOnFrames

EPS = 2.2204e-16  # the MIT/Tübingen benchmark's regularization of KLDiv
LN2 = math.log(2.0)
COLUMNS = ("frame", "time", "n_points", "log_likelihood_bits", "information_gain_bits",
           "NSS", "AUC_Judd", "sAUC", "CC", "KLDiv", "SIM")
METRICS = COLUMNS[3:]
COMPARE_BLOCK = 1 << 17  # 512 KiB of float32: stays in a core's L2 cache


def auc(positives: np.ndarray, negatives: np.ndarray, negative_weights: np.ndarray | None = None) -> float:
    """P(positive > negative) + 0.5 P(positive == negative): the area under the ROC curve.

    Positives are compared in the negatives' dtype. ``negative_weights``
    counts each negative that many times.
    """
    if len(positives) == 0 or len(negatives) == 0:
        return math.nan
    values, multiplicity = np.unique(np.asarray(positives, dtype=negatives.dtype), return_counts=True)
    if negative_weights is None:
        # A frame's pixels against a few distinct positives: vectorized
        # comparisons, one per positive, beat a binary search per pixel
        # (~10x); done block by block so that each block is compared while
        # it sits in the CPU cache (~1.3x).
        below = np.zeros(len(values), np.int64)
        equal = np.zeros(len(values), np.int64)
        for start in range(0, len(negatives), COMPARE_BLOCK):
            block = negatives[start:start + COMPARE_BLOCK]
            for i, value in enumerate(values):
                below[i] += np.count_nonzero(block < value)
                equal[i] += np.count_nonzero(block == value)
        total = float(len(negatives))
    else:
        below, equal = _weighted_counts(values, negatives, negative_weights)
        total = float(np.sum(negative_weights))
    if total == 0:
        return math.nan
    return float(np.dot(multiplicity, below + 0.5 * equal) / (len(positives) * total))


HISTOGRAM_BINS = 4096


def _weighted_counts(values: np.ndarray, negatives: np.ndarray, weights: np.ndarray):
    """Weight of the negatives below, and equal to, each of the sorted distinct ``values``.

    Exact, in a few passes: the negatives are histogrammed into bins by a
    monotonic mapping (a bin below a value's bin holds only smaller
    negatives); only the negatives sharing a bin with some value are
    compared one by one.
    """
    low, high = negatives.min(), negatives.max()
    if not high > low:  # one value only
        total = float(np.sum(weights))
        return np.where(values > low, total, 0.0), np.where(values == low, total, 0.0)
    scale = (HISTOGRAM_BINS - 1) / (high - low)
    bins = ((negatives - low) * scale).astype(np.intp)  # the same arithmetic for values below
    weight_before = np.concatenate([[0.0], np.cumsum(np.bincount(bins, weights, minlength=HISTOGRAM_BINS + 1))])
    inside = (values >= low) & (values <= high)
    value_bins = np.zeros(len(values), np.intp)
    value_bins[inside] = ((values[inside] - low) * scale).astype(np.intp)
    shared = np.zeros(HISTOGRAM_BINS + 1, bool)
    shared[value_bins[inside]] = True
    candidates = shared[bins]
    candidate_values, candidate_bins = negatives[candidates], bins[candidates]
    candidate_weights = weights[candidates]
    below = np.where(values > high, weight_before[-1], 0.0)
    equal = np.zeros(len(values))
    for i in np.flatnonzero(inside):
        same_bin = candidate_bins == value_bins[i]
        below[i] = weight_before[value_bins[i]] + candidate_weights[same_bin & (candidate_values < values[i])].sum()
        equal[i] = candidate_weights[same_bin & (candidate_values == values[i])].sum()
    return below, equal


def normalized_log(log_map: np.ndarray) -> np.ndarray:
    """A log-density (any float dtype) renormalized in float64: its logsumexp becomes 0."""
    log_map = np.asarray(log_map, dtype=np.float64)
    peak = log_map.max()
    return log_map - (peak + math.log(np.exp(log_map - peak).sum()))


class PreparedMap(NamedTuple):
    """A frame's map as the metrics use it (:meth:`VideoEvaluator.prepare`)."""

    log_p: np.ndarray  # (H*W,) float32: the ranks of the AUC
    p: np.ndarray  # (H*W,) float64, the density times ``total``
    total: float
    sum_p2: float  # of the normalized density
    s_negatives: np.ndarray  # log p - log b at the pixels of the video's points (the sAUC negatives)


class VideoEvaluator:
    """Computes the metrics of each frame with gaze of one video.

    Holds only per-video constants: the center bias, the pixels of all
    points (the negatives of sAUC, as distinct pixels with counts) and a
    frame-sized buffer per thread; ``frame`` may run on several threads.
    """

    def __init__(self, gaze: GazeOnFrames, log_center_bias: np.ndarray, sigma: float):
        self.height, self.width = log_center_bias.shape
        self.gaze = gaze
        self.log_b = normalized_log(log_center_bias).reshape(-1)
        self.sigma = sigma
        self._per_thread = threading.local()  # frames may be evaluated on several threads at once
        flat = gaze.y * self.width + gaze.x
        self.pixels, self.point_pixel, self.pixel_counts = np.unique(
            flat, return_inverse=True, return_counts=True)
        self.log_b_at_pixels = self.log_b[self.pixels]

    @property
    def density(self) -> EmpiricalDensity:
        """This thread's empirical-density builder (it holds frame-sized buffers)."""
        density = getattr(self._per_thread, "density", None)
        if density is None:
            density = self._per_thread.density = EmpiricalDensity(self.height, self.width, self.sigma)
        return density

    def prepare(self, log_density: np.ndarray) -> "PreparedMap":
        """What the metrics need of a map whatever the points: one pass over the frame, reusable.

        A map scored on several sets of points (each participant's) is
        prepared once.
        """
        if log_density.shape != (self.height, self.width):
            raise ValueError(f"a map is {log_density.shape}, not {(self.height, self.width)}")
        log_p = np.asarray(log_density, dtype=np.float32).reshape(-1)
        # p up to the factor 1/total (a normalized log-density has max <= 0:
        # exp cannot overflow; values below -745 underflow to 0, i.e. p = 0 there).
        p = np.exp(log_p, dtype=np.float64)
        total = p.sum()
        sum_p2 = float(np.einsum("i,i->", p, p)) / (total * total)  # einsum: no BLAS threads
        s_negatives = log_p[self.pixels].astype(np.float64) - self.log_b_at_pixels
        return PreparedMap(log_p, p, float(total), sum_p2, s_negatives)

    def frame(self, k: int, log_density, among: np.ndarray | None = None) -> dict:
        """Metrics of the k-th frame with gaze (``gaze.frames[k]``), given its log-density (H x W).

        ``log_density``: the array, or what :meth:`prepare` made of it.
        ``among`` (a mask over the frame's points): score only those points
        (one participant's); the sAUC negatives stay the other frames' points.
        """
        x, y = self.gaze.points(k)
        if among is not None:
            x, y = x[among], y[among]
        n = self.height * self.width
        prepared = log_density if isinstance(log_density, PreparedMap) else self.prepare(log_density)
        log_p, p, total, sum_p2 = prepared.log_p, prepared.p, prepared.total, prepared.sum_p2
        log_total = math.log(total)

        flat = y * self.width + x
        log_p_points = log_p[flat].astype(np.float64) - log_total
        p_points = p[flat] / total
        var_p = sum_p2 / n - 1.0 / (n * n)  # sum p = 1, so mean p = 1/n
        std_p = math.sqrt(max(var_p, 0.0))
        nss = float(np.mean(p_points - 1.0 / n) / std_p) if std_p > 0 else 0.0

        support, g = self.density.support(x, y)
        p_support = p[support] / total
        # Pearson of p and g with their sums both 1: (n sum pg - 1) / sqrt((n sum p^2 - 1)(n sum g^2 - 1))
        spread_p = n * sum_p2 - 1.0
        spread_g = n * float(np.einsum("i,i->", g, g)) - 1.0
        cc = (n * float(np.einsum("i,i->", p_support, g)) - 1.0) / math.sqrt(spread_p * spread_g) \
            if spread_p > 0 and spread_g > 0 else 0.0
        kl = float(np.sum(g * np.log(EPS + g / (p_support + EPS))))
        sim = float(np.sum(np.minimum(p_support, g)))

        # ranking on the float32 log-density equals ranking on p (exp is monotonic)
        auc_judd = auc(log_p[flat], log_p)

        # shuffled AUC: s = log p - log b at this frame's points vs every other frame's points
        start, stop = self.gaze.start[k], self.gaze.start[k + 1]
        weights = self.pixel_counts.astype(np.float64)
        np.subtract.at(weights, self.point_pixel[start:stop], 1.0)
        s_positives = log_p[flat].astype(np.float64) - self.log_b[flat]
        s_auc = auc(s_positives, prepared.s_negatives, weights)

        return {
            "n_points": len(x),
            "log_likelihood_bits": float(np.mean(log_p_points)) / LN2 + math.log2(n),
            "information_gain_bits": float(np.mean(log_p_points - self.log_b[flat])) / LN2,
            "NSS": nss, "AUC_Judd": auc_judd, "sAUC": s_auc, "CC": cc, "KLDiv": kl, "SIM": sim,
        }
