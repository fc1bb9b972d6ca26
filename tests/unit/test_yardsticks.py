"""Yardsticks (center bias, humans leave-one-out) and the dhf1k profile against independent computations."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.optimize import minimize_scalar

from salience.evaluation import yardsticks as Y
from salience.evaluation.gaze import on_frames
from salience.evaluation.metrics import EPS, METRICS, VideoEvaluator

H, W = 24, 32
SIGMA = 1.7
FRAMES = 6


def all_on_frames(rows, frames=FRAMES):
    """Every point of [(frame, participant, x, y), ...] on the frames, as the evaluation reads gaze_points.csv."""
    frame, _, x, y = zip(*rows)
    return on_frames(frame, x, y, frames, W, H)


def participants_of(rows):
    """Participant -> their points of [(frame, participant, x, y), ...] on the frames."""
    names = dict.fromkeys(who for _, who, _, _ in rows)
    return {name: all_on_frames([r for r in rows if r[1] == name]) for name in names}


def log_center_bias():
    yy, xx = np.mgrid[:H, :W]
    b = -((yy - H / 2) ** 2 / 60.0 + (xx - W / 2) ** 2 / 120.0)
    return b - np.log(np.exp(b).sum())


def some_gaze(seed=0):
    """Three viewers over six frames; in frame 4 only viewer 'a' looks; 'c' skips frame 1; points may repeat."""
    rng = np.random.default_rng(seed)
    rows = []
    for frame in range(FRAMES):
        centre = rng.uniform([6, 5], [W - 6, H - 5])
        for who in ("a", "b", "c"):
            if (frame == 4 and who != "a") or (frame == 1 and who == "c"):
                continue
            for _ in range(int(rng.integers(2, 6))):
                x, y = np.clip(centre + rng.normal(0, 4, 2), 0, [W - 0.5, H - 0.5])
                rows.append((frame, who, x, y))
        rows.append(rows[-1])  # one point twice
    return rows


def blurred(points):
    """The empirical density by its definition: impulses, gaussian_filter (constant, truncate 4), / sum."""
    impulses = np.zeros((H, W))
    for x, y in points:
        impulses[int(y), int(x)] += 1.0
    g = gaussian_filter(impulses, SIGMA, mode="constant", truncate=4.0)
    return g / g.sum()


def independent_humans(rows, log_b):
    """humans_loo by hand: per frame, per viewer with company, the others' gold standard at the viewer's points."""
    n = H * W
    b = np.exp(log_b)
    points = {}  # frame -> viewer -> [(x, y)]
    for frame, who, x, y in rows:
        points.setdefault(frame, {}).setdefault(who, []).append((math.floor(x), math.floor(y)))
    cases = []  # (frame, viewer, own points, gold of the others)
    for frame, viewers in sorted(points.items()):
        if len(viewers) < 2:
            continue
        for who, own in sorted(viewers.items()):
            others = [p for v, ps in viewers.items() if v != who for p in ps]
            gold = (1 - 1e-20) * blurred(others) + 1e-20 / n
            cases.append((frame, who, own, gold))
    gold_at = np.concatenate([[gold[y, x] for x, y in own] for _, _, own, gold in cases])
    b_at = np.concatenate([[b[y, x] for x, y in own] for _, _, own, _ in cases])
    w = minimize_scalar(lambda w: -np.mean(np.log((1 - w) * gold_at + w * b_at)), bounds=(0, 1),
                        method="bounded", options={"xatol": 1e-12}).x
    per_frame = {}
    for frame, who, own, gold in cases:
        xs, ys = np.array(own).T
        log_r = np.log((1 - w) * gold[ys, xs] + w * b[ys, xs])
        g_own = blurred(own)
        shuffled = [(x, y) for f, vs in points.items() if f != frame for ps in vs.values() for x, y in ps]
        s = np.log(gold) - log_b
        s_neg = np.array([s[y, x] for x, y in shuffled])
        p_points = gold[ys, xs]
        values = {
            "n_points": len(own),
            "log_likelihood_bits": np.mean(log_r) / np.log(2) + np.log2(n),
            "information_gain_bits": np.mean(log_r - log_b[ys, xs]) / np.log(2),
            "NSS": np.mean((p_points - gold.mean()) / gold.std()),
            "AUC_Judd": np.mean([(v > gold).mean() + 0.5 * (v == gold).mean() for v in p_points]),
            "sAUC": np.mean([(v > s_neg).mean() + 0.5 * (v == s_neg).mean() for v in s[ys, xs]]),
            "CC": np.corrcoef(gold.ravel(), g_own.ravel())[0, 1],
            "KLDiv": np.sum(g_own * np.log(EPS + g_own / (gold + EPS))),
            "SIM": np.minimum(gold, g_own).sum(),
        }
        per_frame.setdefault(frame, []).append(values)
    frames = {}
    for frame, values in per_frame.items():
        weights = np.array([v["n_points"] for v in values], float)
        frames[frame] = {m: np.dot(weights, [v[m] for v in values]) / weights.sum() for m in METRICS}
        frames[frame]["n_points"] = int(weights.sum())
    return w, frames


def test_humans_loo_equals_an_independent_computation():
    rows = some_gaze()
    log_b = log_center_bias()
    w, expected = independent_humans(rows, log_b)
    sticks = Y.Yardsticks(Y.by_participant(participants_of(rows)), log_b, SIGMA)
    assert sticks.center_bias_weight == pytest.approx(w, abs=1e-6)
    assert 0 < w < 1
    model = np.random.default_rng(1).normal(size=(H, W)).astype(np.float32)
    seen = {}
    for k, frame in enumerate(sticks.gaze.gaze.frames):
        overall, _ = sticks.frame(k, model)
        if "humans_loo" in overall:
            seen[int(frame)] = overall["humans_loo"]
    assert sorted(seen) == sorted(expected) == [0, 1, 2, 3, 5]  # frame 4: one viewer, no one to predict them
    for frame, values in expected.items():
        assert seen[frame]["n_points"] == values["n_points"]
        for name in METRICS:
            # AUCs rank the float32 log-density: ties there that float64 tells apart move them by ~1e-4
            tolerance = 2e-3 if "AUC" in name else 1e-6
            assert seen[frame][name] == pytest.approx(values[name], abs=tolerance, rel=1e-6), (frame, name)


def test_model_and_center_bias_rows_are_todays_evaluator_on_all_points():
    rows = some_gaze(2)
    log_b = log_center_bias()
    sticks = Y.Yardsticks(Y.by_participant(participants_of(rows)), log_b, SIGMA)
    today = VideoEvaluator(all_on_frames(rows), log_b, SIGMA)
    maps = np.random.default_rng(3).normal(size=(FRAMES, H, W)).astype(np.float32)
    for k, frame in enumerate(sticks.gaze.gaze.frames):
        overall, participants = sticks.frame(k, maps[frame])
        for name, log_map in (("model", maps[frame]), ("center_bias", log_b.astype(np.float32))):
            direct = today.frame(k, log_map)
            for metric in METRICS:
                assert overall[name][metric] == pytest.approx(direct[metric], abs=1e-9), (frame, name, metric)
        assert overall["center_bias"]["information_gain_bits"] == pytest.approx(0.0, abs=1e-6)  # float32 maps
        # per viewer: the same definitions on that viewer's points alone
        x, y = sticks.gaze.gaze.points(k)
        for q in np.unique(sticks.gaze.codes(k)):
            own = sticks.gaze.codes(k) == q
            log_p = maps[frame].astype(np.float64) - np.log(np.exp(maps[frame].astype(np.float64)).sum())
            expected = np.mean(log_p[y[own], x[own]]) / np.log(2) + np.log2(H * W)
            assert participants[("model", int(q))]["log_likelihood_bits"] == pytest.approx(expected, abs=1e-6)
            assert participants[("model", int(q))]["n_points"] == own.sum()


def test_viewers_are_kept_apart_and_named():
    rows = [(0, "b", 1, 1), (0, "a", 2, 2), (1, "b", 3, 3), (0, "b", 4, 4), (9, "a", 1, 1)]  # frame 9: beyond
    gaze = Y.by_participant(participants_of(rows))
    assert gaze.names == ("a", "b")
    assert gaze.gaze.frames.tolist() == [0, 1]
    assert list(zip(gaze.gaze.x.tolist(), gaze.participant.tolist())) == [(2, 0), (1, 1), (4, 1), (3, 1)]
    assert gaze.gaze.dropped == {"outside the video or frame": 1}


def test_weight_fit_ends_at_the_bounds_where_one_side_always_wins():
    assert Y.fit_center_bias_weight(np.array([0.5, 0.4]), np.array([0.1, 0.1])) == 0.0  # the humans win
    assert Y.fit_center_bias_weight(np.array([1e-22, 1e-22]), np.array([0.1, 0.1])) == 1.0  # the center bias wins
    gold, bias = np.array([0.5, 1e-9]), np.array([0.01, 0.01])
    w = Y.fit_center_bias_weight(gold, bias)
    grid = np.linspace(0, 1, 100001)[1:-1]
    best = grid[np.argmax([np.mean(np.log((1 - v) * gold + v * bias)) for v in grid])]
    assert w == pytest.approx(best, abs=2e-5)


def test_explained_information_gain():
    assert Y.explained_information_gain(0.5, 2.0) == 0.25
    assert math.isnan(Y.explained_information_gain(0.5, 0.0))
    assert math.isnan(Y.explained_information_gain(math.nan, 1.0))


# --------------------------------------------------------------------------- dhf1k: the MATLAB code, line by line


def matlab_std(a):
    return np.std(a, ddof=1)  # MATLAB's std normalises by N - 1


def nss_m(saliency_map, fixation_map):
    m = (saliency_map - saliency_map.mean()) / matlab_std(saliency_map.ravel())
    return m[fixation_map.astype(bool)].mean()


def auc_judd_m(saliency_map, fixation_map, jitter=None):
    if jitter is not None:
        saliency_map = saliency_map + jitter
    saliency_map = (saliency_map - saliency_map.min()) / (saliency_map.max() - saliency_map.min())
    S = saliency_map.ravel(order="F")
    F = fixation_map.ravel(order="F")
    Sth = S[F > 0]
    n, pixels = len(Sth), len(S)
    threshes = np.sort(Sth)[::-1]
    tp, fp = np.zeros(n + 2), np.zeros(n + 2)
    tp[-1] = fp[-1] = 1
    for i in range(1, n + 1):
        above = np.sum(S >= threshes[i - 1])
        tp[i] = i / n
        fp[i] = (above - i) / (pixels - n)
    return np.trapezoid(tp, fp)


def auc_shuffled_m(saliency_map, fixation_map, other_map, rng, n_splits=100, step=0.1):
    saliency_map = (saliency_map - saliency_map.min()) / (saliency_map.max() - saliency_map.min())
    S, F, Oth = (m.ravel(order="F") for m in (saliency_map, fixation_map, other_map))
    Sth = S[F > 0]
    n = len(Sth)
    ind = np.flatnonzero(Oth > 0)
    n_oth = min(n, len(ind))
    scores = []
    for _ in range(n_splits):
        curfix = S[rng.permutation(ind)[:n_oth]]
        threshes = np.arange(0, max(Sth.max(), curfix.max()) + 1e-12, step)[::-1]
        tp, fp = np.zeros(len(threshes) + 2), np.zeros(len(threshes) + 2)
        tp[-1] = fp[-1] = 1
        for i, t in enumerate(threshes, start=1):
            tp[i] = np.sum(Sth >= t) / n
            fp[i] = np.sum(curfix >= t) / n_oth
        scores.append(np.trapezoid(tp, fp))
    return np.mean(scores)


def cc_m(map1, map2):
    a = (map1 - map1.mean()) / matlab_std(map1.ravel())
    b = (map2 - map2.mean()) / matlab_std(map2.ravel())
    return np.corrcoef(a.ravel(), b.ravel())[0, 1]


def similarity_m(map1, map2):
    def norm(m):
        m = (m - m.min()) / (m.max() - m.min())
        return m / m.sum()
    return np.minimum(norm(map1), norm(map2)).sum()


def hand_made_case(seed):
    rng = np.random.default_rng(seed)
    saliency = np.exp(rng.normal(size=(12, 16)) * 1.5)  # no ties
    fixation = np.zeros((12, 16))
    for y, x in rng.integers(0, [12, 16], (9, 2)):
        fixation[y, x] += 1  # a pixel may be fixated twice: DHF1K counts it once
    other = np.zeros((12, 16))
    for y, x in rng.integers(0, [12, 16], (30, 2)):
        other[y, x] = 1
    continuous = gaussian_filter(fixation.astype(bool).astype(float), 2.0, mode="constant")
    return saliency, fixation, other, continuous


@pytest.mark.parametrize("seed", range(5))
def test_dhf1k_definitions_equal_its_matlab_code(seed):
    saliency, fixation, other, continuous = hand_made_case(seed)
    fixated = np.flatnonzero(fixation)
    assert Y.dhf1k_nss(saliency, fixated) == pytest.approx(nss_m(saliency, fixation), abs=1e-12)
    assert Y.dhf1k_auc_judd(saliency, fixated) == pytest.approx(auc_judd_m(saliency, fixation), abs=1e-12)
    jitter = np.random.default_rng(seed).random(saliency.shape) / 1e7
    jittered = auc_judd_m(saliency * 255 / saliency.max(), fixation, jitter)  # as a 0-255 image, jittered
    assert Y.dhf1k_auc_judd(saliency, fixated, jitter) == pytest.approx(jittered, abs=1e-12)
    assert jittered == pytest.approx(auc_judd_m(saliency, fixation), abs=1e-6)  # no ties: the jitter changes nothing
    flat = np.where(saliency > np.median(saliency), saliency, 0.0)  # half the map tied at 0, as a human density
    assert Y.dhf1k_auc_judd(flat, fixated, jitter) == pytest.approx(
        auc_judd_m(flat * 255 / flat.max(), fixation, jitter), abs=1e-12)
    assert Y.dhf1k_cc(saliency, continuous) == pytest.approx(cc_m(saliency, continuous), abs=1e-12)
    assert Y.dhf1k_sim(saliency, continuous) == pytest.approx(similarity_m(saliency, continuous), abs=1e-12)
    # sAUC: with at least as many fixated pixels as other pixels every split takes all of them
    few = np.zeros_like(other)
    few.ravel()[np.flatnonzero(other)[:len(fixated) - 1]] = 1
    rng = np.random.default_rng(seed)
    assert Y.dhf1k_sauc(saliency, fixated, np.flatnonzero(few)) == pytest.approx(
        auc_shuffled_m(saliency, fixation, few, rng, n_splits=3), abs=1e-12)
    # ... and with more, the splits' mean tends to the AUC against all of them
    assert Y.dhf1k_sauc(saliency, fixated, np.flatnonzero(other)) == pytest.approx(
        auc_shuffled_m(saliency, fixation, other, rng, n_splits=4000), abs=4e-3)


def test_dhf1k_metrics_of_a_constant_map_are_undefined():
    uniform = np.exp(np.full((576, 720), -np.log(576 * 720), np.float32).astype(np.float64))  # sums with noise
    fixated, other = np.array([5, 900, 4000]), np.array([7, 77])
    assert math.isnan(Y.dhf1k_nss(uniform, fixated))  # as NSS.m: 0 / 0
    assert math.isnan(Y.dhf1k_sauc(uniform, fixated, other))  # AUC_shuffled.m: "NaN saliencyMap"
    assert math.isnan(Y.dhf1k_sim(uniform, uniform))


def test_dhf1k_judd_auc_differs_from_the_pairwise_auc():
    """The trapezoid between thresholds credits half a step: not pysaliency's AUC (a reason for the profile)."""
    saliency = np.arange(10.0)
    fixated = np.array([9])
    assert Y.dhf1k_auc_judd(saliency, fixated) == pytest.approx(1.0)
    fixated = np.array([5])  # above 5 of the 9 other pixels
    assert Y.dhf1k_auc_judd(saliency, fixated) == pytest.approx(5 / 9 + 0.5 * 4 / 9)
    from salience.evaluation.metrics import auc

    assert auc(saliency[fixated], np.delete(saliency, fixated)) == pytest.approx(5 / 9)


def test_dhf1k_evaluator_on_a_frame():
    rows = some_gaze(4)
    gaze = all_on_frames(rows)
    log_b = log_center_bias()
    evaluator = Y.Dhf1kEvaluator(gaze, log_b, SIGMA)
    default = VideoEvaluator(gaze, log_b, SIGMA)
    log_p = np.random.default_rng(5).normal(size=(H, W)).astype(np.float32)
    for k in range(len(gaze.frames)):
        got = evaluator.frame(k, log_p)
        x, y = gaze.points(k)
        fixation = np.zeros((H, W))
        fixation[y, x] = 1
        p = np.exp(log_p.astype(np.float64))
        p /= p.sum()
        continuous = gaussian_filter(fixation, SIGMA, mode="constant", truncate=4.0)
        negatives = evaluator.shuffled_negatives(k)
        other = np.zeros((H, W))
        other.ravel()[negatives] = 1
        assert got["NSS"] == pytest.approx(nss_m(p, fixation), abs=1e-9)
        assert got["AUC_Judd"] == pytest.approx(auc_judd_m(p, fixation), abs=1e-6)  # jittered: no ties here
        assert got["CC"] == pytest.approx(cc_m(p, continuous), abs=1e-9)
        assert got["SIM"] == pytest.approx(similarity_m(p, continuous), abs=1e-9)
        assert got["sAUC"] == pytest.approx(Y.dhf1k_sauc(p, np.flatnonzero(fixation), negatives), abs=1e-12)
        for name in ("log_likelihood_bits", "information_gain_bits", "KLDiv"):  # not DHF1K's: as by default
            assert got[name] == default.frame(k, log_p)[name]
        # the negatives: every pixel fixated in 10 other frames (here: all 5 others), this frame's not drawn
        assert len(gaze.frames) - 1 < Y.Dhf1kEvaluator.SHUFFLED_FRAMES
        others = np.concatenate([gaze.y[gaze.start[j]:gaze.start[j + 1]] * W + gaze.x[gaze.start[j]:gaze.start[j + 1]]
                                 for j in range(len(gaze.frames)) if j != k])
        assert negatives.tolist() == np.unique(others).tolist()


def test_dhf1k_draws_ten_other_frames_reproducibly():
    rows = [(f, "a", f % 30, f % 20) for f in range(40)]
    gaze = all_on_frames(rows, frames=40)
    evaluator = Y.Dhf1kEvaluator(gaze, log_center_bias(), SIGMA)
    drawn = evaluator.shuffled_negatives(7)
    assert len(drawn) == 10 and 7 * W + 7 not in drawn.tolist()
    assert drawn.tolist() == Y.Dhf1kEvaluator(gaze, log_center_bias(), SIGMA).shuffled_negatives(7).tolist()


# --------------------------------------------------------------------------- pysaliency


@pytest.fixture(scope="module")
def pysaliency():
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid  # pysaliency 0.2.22 still calls np.trapz (removed in NumPy 2)
    if os.environ.get("SALIENCE_REQUIRE_PYSALIENCY"):
        import pysaliency

        return pysaliency
    return pytest.importorskip("pysaliency")


def test_gold_standard_and_mixture_equal_pysaliency(pysaliency):
    """pysaliency's GoldModel of the others' points, mixed with the center bias: our LL and IG of humans_loo.

    Points are kept away from the edges (GoldModel's filter reflects at the edges, ours cuts).
    """
    from pysaliency.baseline_utils import GoldModel
    from pysaliency.models import MixtureModel, Model

    log_b = log_center_bias()

    class CenterBias(Model):
        def _log_density(self, stimulus):
            return log_b

    rng = np.random.default_rng(7)
    own = [(0, "a", x + 0.5, y + 0.5) for x, y in zip(rng.integers(9, W - 9, 4), rng.integers(9, H - 9, 4))]
    others = [(0, who, x + 0.5, y + 0.5) for who in "bc"
              for x, y in zip(rng.integers(9, W - 9, 3), rng.integers(9, H - 9, 3))]
    rows = own + others + [(1, "a", 3.5, 3.5)]  # a second frame: the weight's fit uses frame 0 only
    sticks = Y.Yardsticks(Y.by_participant(participants_of(rows)), log_b, SIGMA)
    overall, participants = sticks.frame(0, log_b.astype(np.float32))
    w = sticks.center_bias_weight

    stimuli = pysaliency.Stimuli([rng.integers(0, 255, (H, W, 3)).astype(np.uint8)])

    def fixations(rows):
        return pysaliency.Fixations.create_without_history(
            np.array([r[2] for r in rows]), np.array([r[3] for r in rows]), np.zeros(len(rows), int))

    other_fix, own_fix = fixations(others), fixations(own)
    gold = GoldModel(stimuli, other_fix, bandwidth=SIGMA / max(H, W), keep_aspect=True)
    mixture = MixtureModel([gold, CenterBias()], weights=[1 - w, w], check_norm=False)
    a = participants[("humans_loo", 0)]
    assert a["information_gain_bits"] == pytest.approx(
        mixture.information_gain(stimuli, own_fix, CenterBias()), abs=1e-9)
    assert a["log_likelihood_bits"] == pytest.approx(
        mixture.log_likelihood(stimuli, own_fix) / np.log(2) + np.log2(H * W), abs=1e-9)
    from pysaliency import metrics as pm

    gold_density = np.exp(gold.log_density(stimuli[0]))
    assert a["NSS"] == pytest.approx(pm.NSS(gold_density, own_fix.x_int, own_fix.y_int).mean(), abs=1e-6)
