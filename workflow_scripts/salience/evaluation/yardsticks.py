"""Yardsticks for the model's scores, and the evaluation profiles.

A score means little alone: the summary sets beside the model (predictor
``model``) two other predictors of the same gaze, scored by the same metrics
and averaged the same way:

- ``center_bias``: the model's own center bias (the store's
  ``log_center_bias``) as the map of every frame. What the model adds
  beyond "people look at the middle". Its information gain is 0 by
  definition.
- ``humans_loo``: leave one participant out. For each participant q and
  frame, the empirical density of the *other* participants' points in that
  frame (the blur of the human heatmaps, ``density.EmpiricalDensity``),
  regularised as pysaliency's gold standard (``GoldModel``) is:
  ``gold = (1 - 1e-20) g + 1e-20 / N`` (so that no pixel is impossible),
  scored at q's points. For the probabilistic metrics (log-likelihood and
  information gain) that density is mixed with the center bias,
  ``r = (1 - w) gold + w b``, with one weight w per video fitted to maximise
  the mean log-likelihood of the held-out participants' points
  (:func:`fit_center_bias_weight`): how far the other viewers predict a
  viewer, i.e. about how well any model can do. A participant alone in a
  frame has no one to be predicted by: left out of that frame.

A frame's ``humans_loo`` value is the mean of its participants' values,
each weighted by the participant's points in that frame: for the metrics
that are means over points (LL, IG, NSS, AUC) this is the mean over the
frame's points, as the model's. Per participant, every predictor is also
scored on that participant's points alone.

The share of explainable information gain (DeepGaze papers): the model's
information gain over the center bias divided by that of the humans.

Profiles (config ``evaluation_profile``):

- ``default``: the definitions of ``metrics.py`` (pysaliency's), frames
  averaged per video, then videos.
- ``dhf1k``: the conventions of the DHF1K benchmark's evaluation code
  (``code_for_Metrics``: ``evaluationFunc.m`` and the MIT metric files), so
  that numbers can be set beside its published tables. See
  :class:`Dhf1kEvaluator`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .gaze import GazeOnFrames, Timeline, load_gaze_by_participant

from .metrics import LN2, METRICS, PreparedMap, VideoEvaluator, auc
log = logging.getLogger(__name__)


PREDICTORS = ("model", "center_bias", "humans_loo")
GOLD_EPS = 1e-20  # pysaliency's GoldModel: the share of a uniform map in the gold standard


# --------------------------------------------------------------------------- gaze by participant


@dataclass
class ParticipantGaze:
    """All points grouped by frame (``gaze``), and whose each point is.

    Within a frame the points are ordered by participant;
    ``participant[i]`` indexes ``names``.
    """

    gaze: GazeOnFrames
    participant: np.ndarray  # (N,) int64
    names: tuple[str, ...]

    def codes(self, k: int) -> np.ndarray:
        """The participant of each point of the k-th frame with gaze."""
        return self.participant[self.gaze.start[k]:self.gaze.start[k + 1]]


def by_participant(parts: dict) -> ParticipantGaze:
    """Participant -> GazeOnFrames (``gaze.load_gaze_by_participant``) as one ParticipantGaze.

    Participants are numbered in the order of their names.
    """
    names = tuple(sorted(parts, key=str))
    frames, codes, x, y = [], [], [], []
    dropped: dict = {}
    for code, name in enumerate(names):
        one = parts[name]
        for reason, count in one.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + count
        frames.append(np.repeat(one.frames, np.diff(one.start)))
        codes.append(np.full(len(one.x), code, np.int64))
        x.append(one.x)
        y.append(one.y)
    frames, codes, x, y = (np.concatenate(a).astype(np.int64) if a else np.zeros(0, np.int64)
                           for a in (frames, codes, x, y))
    order = np.lexsort((codes, frames))  # by frame, then participant; stable within
    frames, codes, x, y = frames[order], codes[order], x[order], y[order]
    unique, first = np.unique(frames, return_index=True)
    start = np.append(first, len(frames)).astype(np.int64)
    return ParticipantGaze(GazeOnFrames(unique.astype(np.int64), start, x, y, dropped), codes, names)


def load_by_participant(path, timeline: Timeline, width: int, height: int) -> ParticipantGaze:
    """A gaze_points.csv (or tidy gaze CSV) on a video's frames, by participant, logged."""
    gaze = by_participant(load_gaze_by_participant(path, timeline, width, height))
    log.info("%s: %d participants, %d points on %d frames", path, len(gaze.names), gaze.gaze.n_points,
             len(gaze.gaze.frames))
    return gaze


# --------------------------------------------------------------------------- the DHF1K definitions


def _min_max(values: np.ndarray) -> np.ndarray:
    low, high = values.min(), values.max()
    return (values - low) / (high - low) if high > low else np.full_like(values, math.nan)


def dhf1k_nss(saliency: np.ndarray, fixated: np.ndarray) -> float:
    """``NSS.m``: the map standardised (std with N - 1), its mean at the fixated pixels (each once)."""
    s = saliency.reshape(-1)
    mean, std = s.mean(), s.std(ddof=1)
    # a constant map (a uniform center bias) has no NSS: its std is rounding noise, not spread
    return float(np.mean((s[fixated] - mean) / std)) if std > 1e-12 * abs(mean) else math.nan


def dhf1k_auc_judd(saliency: np.ndarray, fixated: np.ndarray, jitter: np.ndarray | None = None) -> float:
    """``AUC_Judd.m``: thresholds at the fixated pixels' values.

    Each fixated pixel's value is a threshold; true positives: the share of
    fixated pixels at or above it; false positives: the share of the other
    pixels at or above it; the curve's area by the trapezoid rule. Not the
    Mann-Whitney AUC: the straight segments between thresholds give each
    pixel between two of them half a step more. ``jitter`` (values in
    [0, 1e-7), as the code's ``rand/10000000``) is added to the map scaled
    as the 0-255 image the code reads: it breaks ties (a human density is
    flat wherever nobody looked) and changes nothing else.
    """
    s = saliency.reshape(-1)
    if jitter is not None:
        s = s * (255.0 / s.max()) + jitter.reshape(-1)
    s = _min_max(s)
    if np.isnan(s).any() or len(fixated) == 0:
        return math.nan
    thresholds = np.sort(s[fixated])  # ascending here; the code sweeps them descending
    n, pixels = len(thresholds), len(s)
    # pixels at or above each threshold: count the thresholds each pixel reaches (no full sort)
    reached = np.searchsorted(thresholds, s, side="right")
    at_least = np.cumsum(np.bincount(reached, minlength=n + 1)[::-1])[::-1]  # [r]: pixels reaching >= r
    above = at_least[1:][::-1]  # at or above each threshold, highest threshold first
    i = np.arange(1, n + 1)
    tp = np.concatenate([[0.0], i / n, [1.0]])
    fp = np.concatenate([[0.0], (above - i) / (pixels - n), [1.0]])
    return float(np.sum(np.diff(fp) * (tp[1:] + tp[:-1]) / 2))


DHF1K_SAUC_STEP = 0.1  # AUC_shuffled.m's default threshold step on the [0, 1]-scaled map


def dhf1k_sauc(saliency: np.ndarray, fixated: np.ndarray, other: np.ndarray) -> float:
    """``AUC_shuffled.m``, its expectation over the random splits.

    The map scaled to [0, 1]; thresholds 0, 0.1, 0.2, ... ; positives: the
    fixated pixels, negatives: the pixels fixated in the other frames (each
    once). The code averages 100 random draws of as many negatives as
    positives; an AUC is a mean over negatives, so the draws average to the
    AUC against all of them, computed here. The trapezoid over the coarse
    thresholds equals the AUC of the values' threshold levels with ties
    counted half.
    """
    s = _min_max(saliency.reshape(-1))
    if np.isnan(s).any() or len(fixated) == 0 or len(other) == 0:
        return math.nan
    positives, negatives = s[fixated], s[other]
    top = max(positives.max(), negatives.max())
    thresholds = np.arange(1, int(top / DHF1K_SAUC_STEP) + 2) * DHF1K_SAUC_STEP
    level = lambda v: np.searchsorted(thresholds, v, side="right").astype(np.float64)  # noqa: E731
    return auc(level(positives), level(negatives))


def dhf1k_cc(saliency: np.ndarray, continuous: np.ndarray) -> float:
    """``CC.m``: Pearson's correlation of the map and the continuous ground truth."""
    a = saliency.reshape(-1) - saliency.mean()
    b = continuous.reshape(-1) - continuous.mean()
    dot = lambda u, v: float(np.einsum("i,i->", u, v))  # noqa: E731  (einsum: no BLAS threads)
    denominator = math.sqrt(dot(a, a) * dot(b, b))
    return dot(a, b) / denominator if denominator > 0 else math.nan


def dhf1k_sim(saliency: np.ndarray, continuous: np.ndarray) -> float:
    """``similarity.m``: both maps scaled to [0, 1], then to sum 1; the sum of their minimum."""
    def distribution(m):
        m = _min_max(m.reshape(-1))
        return m / m.sum()
    return float(np.sum(np.minimum(distribution(saliency), distribution(continuous))))


class Dhf1kEvaluator(VideoEvaluator):
    """The metrics of a frame under the ``dhf1k`` profile.

    As DHF1K's evaluation code, on the model's density as its saliency map:
    NSS, AUC_Judd and sAUC on the binary fixation map (each fixated pixel
    once), CC and SIM on the continuous map (the blur of the fixated pixels,
    1 degree FWHM), sAUC negatives from the fixated pixels of 10 random
    other frames of the video (DHF1K draws from the whole split, and may
    draw the frame itself). Log-likelihood, information gain and KLDiv,
    which DHF1K does not report, keep their default definitions.
    The draws (the frames, AUC_Judd's jitter) are seeded by the frame's
    index: reruns agree.
    """

    SHUFFLED_FRAMES = 10
    SEED = 1729

    def frame(self, k: int, log_density, among: np.ndarray | None = None) -> dict:
        prepared = log_density if isinstance(log_density, PreparedMap) else self.prepare(log_density)
        values = super().frame(k, prepared, among)
        x, y = self.gaze.points(k)
        if among is not None:
            x, y = x[among], y[among]
        fixated = np.unique(y * self.width + x)
        p = prepared.p / prepared.total
        continuous = self.density.image(fixated % self.width, fixated // self.width).reshape(-1)
        jitter = np.random.default_rng((self.SEED, int(self.gaze.frames[k]), 1)).random(p.size) / 1e7
        values.update(NSS=dhf1k_nss(p, fixated), AUC_Judd=dhf1k_auc_judd(p, fixated, jitter),
                      sAUC=dhf1k_sauc(p, fixated, self.shuffled_negatives(k)),
                      CC=dhf1k_cc(p, continuous), SIM=dhf1k_sim(p, continuous))
        return values

    def shuffled_negatives(self, k: int) -> np.ndarray:
        """The distinct pixels fixated in 10 random other frames with gaze (all of them if fewer)."""
        others = np.delete(np.arange(len(self.gaze.frames)), k)
        rng = np.random.default_rng((self.SEED, int(self.gaze.frames[k])))
        chosen = rng.choice(others, min(self.SHUFFLED_FRAMES, len(others)), replace=False)
        pixels = [self.gaze.y[self.gaze.start[j]:self.gaze.start[j + 1]] * self.width
                  + self.gaze.x[self.gaze.start[j]:self.gaze.start[j + 1]] for j in chosen]
        return np.unique(np.concatenate(pixels)) if pixels else np.zeros(0, np.int64)

    def human_points(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = np.unique(y * self.width + x)  # DHF1K blurs the binary fixation map
        return flat % self.width, flat // self.width


@dataclass(frozen=True)
class Profile:
    """How a summary is made: which definitions, which blur, which averaging."""

    name: str
    evaluator: type  # VideoEvaluator or a subclass
    pool_frames: bool  # one mean over all frames of all videos (else per video, then over videos)
    fwhm_degrees: float | None  # the ground truth's blur, fixed by the profile (None: config)

    def sigma_fwhm(self, configured: float) -> float:
        return configured if self.fwhm_degrees is None else self.fwhm_degrees


PROFILES = {
    "default": Profile("default", VideoEvaluator, pool_frames=False, fwhm_degrees=None),
    "dhf1k": Profile("dhf1k", Dhf1kEvaluator, pool_frames=True, fwhm_degrees=1.0),
}


def check_profile(config: dict) -> None:
    """Refuse settings a profile overrides (run when the DAG is built)."""
    profile = PROFILES[config.get("evaluation_profile", "default")]
    if profile.fwhm_degrees is not None and config.get("gaze_fwhm_degrees", profile.fwhm_degrees) != profile.fwhm_degrees:
        raise ConfigError(
            f"evaluation_profile '{profile.name}' fixes the ground truth's blur at {profile.fwhm_degrees:g} degree "
            f"FWHM (as its benchmark does), but gaze_fwhm_degrees is {config['gaze_fwhm_degrees']:g}: "
            f"remove gaze_fwhm_degrees from the config (or set it to {profile.fwhm_degrees:g})")


def human_points(evaluator: VideoEvaluator, x: np.ndarray, y: np.ndarray):
    """The points a profile blurs into a human density: all (default) or each pixel once (dhf1k)."""
    method = getattr(evaluator, "human_points", None)
    return method(x, y) if method else (x, y)


# --------------------------------------------------------------------------- humans, leave one out


def gold_standard(g: np.ndarray, pixels: int) -> np.ndarray:
    """pysaliency's ``GoldModel`` regularisation of an empirical density ``g`` (sums to 1)."""
    return (1.0 - GOLD_EPS) * g + GOLD_EPS / pixels


def fit_center_bias_weight(gold_at_points: np.ndarray, bias_at_points: np.ndarray,
                           tolerance: float = 1e-10) -> float:
    """The w in [0, 1] maximising the mean of log((1 - w) gold + w b) over the points.

    The mean is concave in w, so its derivative, mean((b - gold) / mix),
    falls as w grows: bisection finds where it crosses 0 (or the end of
    [0, 1] it points to). pysaliency fits its gold standard's regularisation
    weights the same way (the cross-validated log-likelihood, maximised).
    """
    gold = np.asarray(gold_at_points, np.float64)
    bias = np.asarray(bias_at_points, np.float64)
    if len(gold) == 0:
        return math.nan

    def slope(w):
        return float(np.mean((bias - gold) / ((1.0 - w) * gold + w * bias)))

    if slope(0.0) <= 0:
        return 0.0
    if slope(1.0) >= 0:
        return 1.0
    low, high = 0.0, 1.0
    while high - low > tolerance:
        middle = 0.5 * (low + high)
        low, high = (middle, high) if slope(middle) > 0 else (low, middle)
    return 0.5 * (low + high)


def others_of(codes: np.ndarray):
    """For each participant of a frame who has company: (participant, own mask, others' mask)."""
    present = np.unique(codes)
    if len(present) < 2:
        return
    for q in present.tolist():
        own = codes == q
        yield q, own, ~own


class Yardsticks:
    """Scores one video's frames for every predictor, overall and per participant.

    ``frame(k, log_density)`` may run on several threads at once (as
    ``VideoEvaluator.frame``). ``center_bias_weight``: the fitted w of the
    humans' mixture.
    """

    def __init__(self, gaze: ParticipantGaze, log_center_bias: np.ndarray, sigma: float,
                 evaluator: type = VideoEvaluator):
        self.gaze = gaze
        self.evaluator = evaluator(gaze.gaze, log_center_bias, sigma)
        self.log_b = self.evaluator.log_b.reshape(log_center_bias.shape)  # normalized, float64
        self.center_bias_map = self.evaluator.prepare(self.log_b.astype(np.float32))  # every frame's
        self.pixels = self.log_b.size
        self.center_bias_weight = fit_center_bias_weight(*self._gold_and_bias_at_points())

    def _human_support(self, x, y):
        """(flat pixels, density there) of the profile's human density of these points."""
        return self.evaluator.density.support(*human_points(self.evaluator, x, y))

    def _gold_and_bias_at_points(self):
        """For every point with company: the others' gold standard there, and the center bias."""
        gold, bias = [], []
        for k in range(len(self.gaze.gaze.frames)):
            x, y = self.gaze.gaze.points(k)
            flat = y * self.evaluator.width + x
            for _, own, others in others_of(self.gaze.codes(k)):
                index, values = self._human_support(x[others], y[others])
                g = np.zeros(own.sum())
                where = np.searchsorted(index, flat[own])
                hit = where < len(index)
                hit[hit] = index[where[hit]] == flat[own][hit]
                g[hit] = values[where[hit]]
                gold.append(gold_standard(g, self.pixels))
                bias.append(np.exp(self.log_b.reshape(-1)[flat[own]]))
        if not gold:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(gold), np.concatenate(bias)

    def frame(self, k: int, log_density: np.ndarray):
        """(metrics by predictor, {(predictor, participant): metrics}) of the k-th frame with gaze.

        Every metrics dict holds ``n_points`` and ``METRICS``; a frame where
        nobody has company has no ``humans_loo`` entry.
        """
        evaluate = self.evaluator.frame
        x, y = self.gaze.gaze.points(k)
        codes = self.gaze.codes(k)
        model_map = self.evaluator.prepare(log_density)  # once for all the frame's viewers
        overall = {"model": evaluate(k, model_map), "center_bias": evaluate(k, self.center_bias_map)}
        participants = {}
        present = np.unique(codes).tolist()
        for q in present:
            for predictor, log_map in (("model", model_map), ("center_bias", self.center_bias_map)):
                # alone in the frame, a viewer's points are the frame's: scored already
                participants[(predictor, q)] = overall[predictor] if len(present) == 1 else \
                    evaluate(k, log_map, codes == q)
        flat = y * self.evaluator.width + x
        humans = []
        for q, own, others in others_of(codes):
            g = self.evaluator.density.image(*human_points(self.evaluator, x[others], y[others]))
            gold = gold_standard(g, self.pixels)
            with np.errstate(divide="ignore"):
                values = evaluate(k, np.log(gold).astype(np.float32), own)
            # log-likelihood and information gain (as metrics.py defines them) of the mixture
            w = self.center_bias_weight
            log_b_points = self.log_b.reshape(-1)[flat[own]]
            log_r = np.log((1.0 - w) * gold.reshape(-1)[flat[own]] + w * np.exp(log_b_points))
            values["log_likelihood_bits"] = float(np.mean(log_r)) / LN2 + math.log2(self.pixels)
            values["information_gain_bits"] = float(np.mean(log_r - log_b_points)) / LN2
            participants[("humans_loo", q)] = values
            humans.append(values)
        if humans:
            overall["humans_loo"] = weighted_mean(humans)
        return overall, participants


def weighted_mean(values: list[dict]) -> dict:
    """The mean of metric dicts weighted by their ``n_points`` (NaN metrics left out)."""
    weights = np.array([v["n_points"] for v in values], np.float64)
    out = {"n_points": int(weights.sum())}
    for name in METRICS:
        column = np.array([v[name] for v in values], np.float64)
        ok = np.isfinite(column)
        out[name] = float(np.dot(weights[ok], column[ok]) / weights[ok].sum()) if ok.any() else math.nan
    return out


def explained_information_gain(model_ig: float, humans_ig: float) -> float:
    """The share of the humans' information gain the model reaches (NaN where undefined)."""
    if not (math.isfinite(model_ig) and math.isfinite(humans_ig)) or humans_ig <= 0:
        return math.nan
    return model_ig / humans_ig


class ParticipantMeans:
    """Running means over frames, per (predictor, participant): ``metrics_participants.csv``.

    Sums only (a long recording with many viewers holds no per-frame rows);
    a metric undefined on a frame is left out of that participant's mean.
    """

    def __init__(self):
        self.frames: dict = {}
        self.points: dict = {}
        self.sums: dict = {}
        self.counts: dict = {}

    def add(self, participants: dict) -> None:
        for key, values in participants.items():
            self.frames[key] = self.frames.get(key, 0) + 1
            self.points[key] = self.points.get(key, 0) + values["n_points"]
            row = np.array([values[name] for name in METRICS], np.float64)
            ok = np.isfinite(row)
            self.sums[key] = self.sums.get(key, 0.0) + np.where(ok, row, 0.0)
            self.counts[key] = self.counts.get(key, 0) + ok

    def rows(self, names: tuple[str, ...]):
        """(predictor, participant name, frames, points, {metric: mean}) by predictor, then participant."""
        for predictor in PREDICTORS:
            for code, name in enumerate(names):
                key = (predictor, code)
                if key not in self.frames:
                    continue
                with np.errstate(invalid="ignore", divide="ignore"):
                    means = self.sums[key] / self.counts[key]
                yield predictor, name, self.frames[key], self.points[key], dict(zip(METRICS, means.tolist()))
