"""Evaluation metrics: hand-computed values, pysaliency's own functions, the streaming CLI, the summary."""

from __future__ import annotations

import csv
import math
import os

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from helpers.stores import make_store, normalized, random_maps

from salience.__main__ import main
from salience.evaluation.density import sigma_pixels
from salience.evaluation.evaluate import FRAME_COLUMNS, summarize
from salience.evaluation.gaze import GazeOnFrames
from salience.evaluation.metrics import COLUMNS, EPS, VideoEvaluator, auc

TINY_SIGMA = 0.1  # kernel radius 0: the empirical density is the impulses themselves


def on_frames(points_per_frame):
    """GazeOnFrames from [(frame, [(x, y), ...]), ...]."""
    frames, start, xs, ys = [], [0], [], []
    for frame, points in points_per_frame:
        frames.append(frame)
        xs += [p[0] for p in points]
        ys += [p[1] for p in points]
        start.append(len(xs))
    return GazeOnFrames(np.array(frames), np.array(start), np.array(xs), np.array(ys), {})


def test_hand_computed_values_on_a_2x2_frame():
    p = np.array([[0.1, 0.2], [0.3, 0.4]])
    gaze = on_frames([(0, [(1, 1)]), (1, [(0, 0)])])  # frame 0: the pixel of p = 0.4
    evaluator = VideoEvaluator(gaze, np.log(np.full((2, 2), 0.25)), TINY_SIGMA)
    m = evaluator.frame(0, np.log(p).astype(np.float32))
    assert m["n_points"] == 1
    assert m["log_likelihood_bits"] == pytest.approx(math.log2(0.4) + 2, abs=1e-7)
    assert m["information_gain_bits"] == pytest.approx(math.log2(0.4 / 0.25), abs=1e-7)
    assert m["NSS"] == pytest.approx(0.15 / math.sqrt(0.0125), abs=1e-6)  # std of .1 .2 .3 .4, ddof 0
    assert m["AUC_Judd"] == pytest.approx((3 + 0.5) / 4)  # above 3 pixels, equal to itself
    assert m["sAUC"] == pytest.approx(1.0)  # log .4 vs the other frame's point at log .1
    assert m["CC"] == pytest.approx(math.sqrt(0.6), abs=1e-6)  # g = the impulse at (1, 1)
    assert m["KLDiv"] == pytest.approx(math.log(EPS + 1 / (0.4 + EPS)), abs=1e-6)
    assert m["SIM"] == pytest.approx(0.4, abs=1e-7)
    assert evaluator.frame(1, np.log(p).astype(np.float32))["sAUC"] == pytest.approx(0.0)


def test_auc_counts_ties_as_half_and_weights_negatives():
    assert auc(np.array([2.0, 2.0]), np.array([1.0, 2.0, 3.0, 2.0])) == pytest.approx(0.5)
    assert auc(np.array([1.0, 3.0]), np.array([0.0, 1.0, 2.0])) == pytest.approx((1 + 0.5 + 3) / 6)
    weighted = auc(np.array([1.5]), np.array([1.0, 2.0, 1.5]), np.array([3.0, 1.0, 2.0]))
    assert weighted == pytest.approx((3 + 0.5 * 2) / 6)
    assert math.isnan(auc(np.array([1.0]), np.array([])))


def test_information_gain_uses_the_stored_center_bias():
    rng = np.random.default_rng(3)
    log_p = random_maps(rng, 1, 5, 7)[0]
    log_b = normalized(rng.normal(size=(5, 7)))
    x, y = np.array([1, 6, 3]), np.array([0, 4, 2])
    m = VideoEvaluator(on_frames([(0, list(zip(x, y)))]), log_b, 1.0).frame(0, log_p)
    log_p64 = normalized(log_p)  # p is renormalized in float64
    expected = np.mean(log_p64[y, x] - log_b[y, x]) / math.log(2)
    assert m["information_gain_bits"] == pytest.approx(expected, abs=1e-12)


@pytest.fixture(scope="module")
def pysaliency():
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid  # pysaliency 0.2.22 still calls np.trapz (removed in NumPy 2)
    if os.environ.get("SALIENCE_REQUIRE_PYSALIENCY"):  # CI installed it: a failing import is a failure
        import pysaliency

        return pysaliency
    return pytest.importorskip("pysaliency")


@pytest.mark.parametrize("seed, spread, sigma, height, width, others", [
    (0, 2.0, 2.5, 30, 40, 25), (1, 0.01, 1.2, 30, 40, 25), (2, 4.0, 0.3, 30, 40, 25),
    (3, 1.0, 6.0, 300, 500, 5000),  # several comparison blocks, a large shuffled set
])
def test_metrics_equal_pysaliency(pysaliency, seed, spread, sigma, height, width, others):
    from pysaliency import metrics as pm
    from pysaliency import roc

    rng = np.random.default_rng(seed)
    log_p = random_maps(rng, 1, height, width, spread)[0]
    log_b = normalized(-((np.arange(height)[:, None] - height / 2) ** 2 + (np.arange(width) - width / 2) ** 2)
                       / (height * width / 4))
    x, y = rng.integers(0, width, 12), rng.integers(0, height, 12)
    x[1], y[1] = x[0], y[0]  # two points on one pixel
    x_other, y_other = rng.integers(0, width, others), rng.integers(0, height, others)
    gaze = on_frames([(0, list(zip(x, y))), (4, list(zip(x_other, y_other)))])
    m = VideoEvaluator(gaze, log_b, sigma).frame(0, log_p)

    p = np.exp(log_p.astype(np.float64))
    p /= p.sum()
    impulses = np.zeros((height, width))
    np.add.at(impulses, (y, x), 1.0)
    g = gaussian_filter(impulses, sigma, mode="constant", truncate=4.0)
    g /= g.sum()
    s = np.log(p) - log_b
    with np.errstate(divide="ignore"):
        expected = {
            "NSS": pm.NSS(p, x, y).mean(), "CC": pm.CC(p, g), "SIM": pm.SIM(p, g), "KLDiv": pm.MIT_KLDiv(p, g),
            "AUC_Judd": roc.general_roc(p[y, x], p.ravel())[0],
            "sAUC": roc.general_roc(s[y, x], s[y_other, x_other])[0],
        }
    for name, value in expected.items():
        assert m[name] == pytest.approx(value, abs=1e-9, rel=0), name


def test_evaluate_cli_streams_the_store_and_writes_one_row_per_frame_with_gaze(tmp_path):
    rng = np.random.default_rng(5)
    maps = random_maps(rng, 6, 12, 16)
    log_b = normalized(rng.normal(size=(12, 16)) * 0.3)
    times = [0.0, 0.1, 0.15, 0.4, 0.5, 0.55]  # variable frame rate
    store = make_store(tmp_path / "saliency.zarr", maps, log_center_bias=log_b, times=times)
    gaze = tmp_path / "gaze.csv"
    gaze.write_text("participant,time,x,y\n"
                    "a,0.0,1.2,3.9\nb,0.05,15.5,11.5\na,0.12,4,4\nb,0.45,20,1\na,0.47,0,0\nb,0.56,3,3\n")
    out = tmp_path / "metrics.csv"
    assert main(["evaluate", str(store), "--gaze", str(gaze), "--output", str(out),
                 "--pixels-per-degree", "4"]) == 0
    every = list(csv.DictReader(out.open()))
    assert tuple(every[0]) == FRAME_COLUMNS
    # a row per frame for the model and its center bias; the humans where two viewers share a frame
    assert [(r["predictor"], r["frame"]) for r in every[:4]] == [
        ("model", "0"), ("center_bias", "0"), ("humans_loo", "0"), ("model", "1")]
    assert [r["frame"] for r in every if r["predictor"] == "humans_loo"] == ["0"]
    rows = [r for r in every if r["predictor"] == "model"]
    assert [(int(r["frame"]), float(r["time"]), int(r["n_points"])) for r in rows] == \
        [(0, 0.0, 2), (1, 0.1, 1), (3, 0.4, 1), (5, 0.55, 1)]
    gaze_on = on_frames([(0, [(1, 3), (15, 11)]), (1, [(4, 4)]), (3, [(0, 0)]), (5, [(3, 3)])])
    evaluator = VideoEvaluator(gaze_on, log_b.astype(np.float32), sigma_pixels(4.0))
    for k, row in enumerate(rows):
        direct = evaluator.frame(k, maps[gaze_on.frames[k]])
        for name in COLUMNS[3:]:
            assert float(row[name]) == pytest.approx(direct[name], abs=1e-12), name


def test_float16_store_is_renormalized(tmp_path):
    rng = np.random.default_rng(6)
    maps = random_maps(rng, 2, 12, 16, 3.0)
    gaze = tmp_path / "gaze.csv"
    gaze.write_text("frame,x,y\n0,3,3\n0,9,9\n1,5,2\n")
    results = {}
    for dtype in ("float32", "float16"):
        store = make_store(tmp_path / f"{dtype}.zarr", maps, dtype=dtype)
        out = tmp_path / f"{dtype}.csv"
        assert main(["evaluate", str(store), "--gaze", str(gaze), "--output", str(out),
                     "--pixels-per-degree", "3"]) == 0
        results[dtype] = list(csv.DictReader(out.open()))
    for a, b in zip(results["float32"], results["float16"]):
        assert float(b["SIM"]) <= 1.0
        assert float(a["log_likelihood_bits"]) == pytest.approx(float(b["log_likelihood_bits"]), abs=0.02)


def test_store_without_center_bias_is_refused_with_the_fix(tmp_path):
    import zarr

    path = tmp_path / "old.zarr"
    group = zarr.open_group(str(path), mode="w")
    group.attrs["fps"] = 10
    group.create_array("log_density", data=random_maps(np.random.default_rng(0), 2, 4, 4))
    gaze = tmp_path / "gaze.csv"
    gaze.write_text("frame,x,y\n0,1,1\n")
    with pytest.raises(Exception, match="no 'log_center_bias'.*Re-run its assembly"):
        from salience.evaluation.evaluate import evaluate

        evaluate(path, gaze, tmp_path / "m.csv", pixels_per_degree=2)
    assert not (tmp_path / "m.csv").exists()


def test_summary_is_frames_first_then_videos(tmp_path):
    header = "predictor," + ",".join(COLUMNS)
    (tmp_path / "a.csv").write_text(header + "\n" + "model,0,0.0,2,1,1,1,1,nan,1,1,1\n"
                                    "humans_loo,0,0.0,2,2,2,2,2,2,2,2,2\n" + "model,1,0.1,1,3,3,3,3,0.5,3,3,3\n")
    (tmp_path / "b.csv").write_text(header + "\n" + "model,4,0.4,5,6,6,6,6,0.7,6,6,6\n"
                                    "humans_loo,4,0.4,5,4,4,4,4,4,4,4,4\n")
    (tmp_path / "pa.csv").write_text("predictor,participant,center_bias_weight\nmodel,p,\nhumans_loo,p,0.25\n")
    (tmp_path / "pb.csv").write_text("predictor,participant,center_bias_weight\nhumans_loo,p,0.5\n")
    out = tmp_path / "summary.csv"
    summarize({"a": tmp_path / "a.csv", "b": tmp_path / "b.csv"}, out,
              participants_files={"a": tmp_path / "pa.csv", "b": tmp_path / "pb.csv"})
    rows = list(csv.DictReader(out.open()))
    assert [(r["video"], r["predictor"]) for r in rows] == [
        ("a", "model"), ("a", "humans_loo"), ("b", "model"), ("b", "humans_loo"), ("all", "model"), ("all", "humans_loo")]
    a, _, _, b_humans, everything, _ = rows
    assert float(a["NSS"]) == 2.0 and float(a["sAUC"]) == 0.5  # NaN left out
    assert float(everything["NSS"]) == 4.0 and float(everything["sAUC"]) == pytest.approx(0.6)  # mean of videos
    assert (everything["frames"], everything["points"]) == ("3", "8")
    assert float(a["information_gain_explained"]) == pytest.approx(2 / 2)  # IG 2 of the humans' 2
    assert float(everything["information_gain_explained"]) == pytest.approx(4 / 3)
    assert (b_humans["center_bias_weight"], a["center_bias_weight"]) == ("0.5", "")
    summarize({"a": tmp_path / "a.csv", "b": tmp_path / "b.csv"}, out, profile="dhf1k")  # all frames pooled
    everything = list(csv.DictReader(out.open()))[4]
    assert float(everything["NSS"]) == pytest.approx((1 + 3 + 6) / 3)


def test_summary_of_an_older_metrics_csv_says_to_rerun(tmp_path):
    (tmp_path / "a.csv").write_text(",".join(COLUMNS) + "\n" + "0,0.0,2,1,1,1,1,nan,1,1,1\n")
    with pytest.raises(Exception, match="no 'predictor' column.*run the workflow again"):
        summarize({"a": tmp_path / "a.csv"}, tmp_path / "summary.csv")


def test_weighted_auc_equals_the_plain_count_on_repeated_negatives():
    rng = np.random.default_rng(9)
    for _ in range(20):
        negatives = np.round(rng.normal(size=3000), 2)  # many ties
        weights = rng.integers(0, 4, 3000).astype(np.float64)
        positives = np.concatenate([rng.choice(negatives, 5), np.round(rng.normal(size=5) * 3, 2)])
        repeated = np.repeat(negatives, weights.astype(int))
        expected = np.mean([(p > repeated).mean() + 0.5 * (p == repeated).mean() for p in positives])
        assert auc(positives, negatives, weights) == pytest.approx(expected, abs=1e-12)
    assert auc(np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.array([1.0, 2.0])) == pytest.approx(0.75)


def test_auc_blocks_do_not_change_the_result(monkeypatch):
    import salience.evaluation.metrics

    rng = np.random.default_rng(4)
    negatives = np.round(rng.normal(size=1000), 1).astype(np.float32)
    positives = negatives[rng.integers(0, 1000, 30)]
    whole = auc(positives, negatives)
    monkeypatch.setattr(salience.evaluation.metrics, "COMPARE_BLOCK", 7)
    assert auc(positives, negatives) == whole
    expected = np.mean([(p > negatives).mean() + 0.5 * (p == negatives).mean() for p in positives])
    assert whole == pytest.approx(expected, abs=1e-12)


def test_csv_outputs_appear_whole_or_not_at_all(tmp_path):
    from salience.atomic import StagedCSV

    with pytest.raises(RuntimeError):
        with StagedCSV(tmp_path / "m.csv", ["a"]) as table:
            table.row([1.5])
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with StagedCSV(tmp_path / "m.csv", ["a", "b"]) as table:
        table.row([0.1, math.nan])
    assert (tmp_path / "m.csv").read_bytes() == b"a,b\n0.1,nan\n" and len(list(tmp_path.iterdir())) == 1


def test_one_participant_gives_no_humans_rows_and_says_so(tmp_path, caplog):
    from salience.evaluation.evaluate import evaluate

    store = make_store(tmp_path / "s.zarr", random_maps(np.random.default_rng(8), 3, 12, 16))
    gaze = tmp_path / "gaze.csv"
    gaze.write_text("frame,x,y\n0,3,3\n0,9,9\n1,5,2\n")
    evaluate(store, gaze, tmp_path / "m.csv", participants_output=tmp_path / "p.csv", pixels_per_degree=3)
    assert {r["predictor"] for r in csv.DictReader((tmp_path / "m.csv").open())} == {"model", "center_bias"}
    assert [r["participant"] for r in csv.DictReader((tmp_path / "p.csv").open())] == ["gaze", "gaze"]  # named after its file
    assert "one participant only" in caplog.text
