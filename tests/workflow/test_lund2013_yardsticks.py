"""The yardsticks on a real recording, through the real snakemake: Lund 2013's triple jump.

Six viewers, 500 Hz samples in pixels of a 1024x768 screen, the 720x576
video shown centred at its native size, the first sample at the first frame
(../shared/data/lund2013/README.md; GPL-3.0 data, read where it is, never
copied into the repository). The samples become the tidy gaze CSV the
workflow reads (x - 152, y - 96, time from the first sample, a participant
column). The summary must hold the model, its center bias and the humans,
and the humans must equal a computation written here from the definitions
with numpy and scipy. The report's first page is looked at in a real
browser where Debian's chromium is installed.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers.snakemake import REPO, snakemake, write_config

pytestmark = pytest.mark.slow

SCREEN_OFFSET = (152, 96)  # (1024 - 720) / 2, (768 - 576) / 2
PIXELS_PER_DEGREE = 31.5  # 1024 px over 0.38 m, seen from 0.67 m: 31.5 px per degree at the centre
EPS = 2.2204e-16


def lund2013() -> Path:
    for shared in (os.environ.get("SALIENCE_SHARED"), REPO.parent / "shared"):
        folder = Path(shared) / "data" / "lund2013" if shared else None
        if folder and (folder / "triple_jump.avi").exists():
            return folder
    pytest.skip("../shared/data/lund2013 is absent (set SALIENCE_SHARED to the shared folder)")


def viewers_samples(folder: Path) -> dict:
    """{viewer: (t seconds from the first sample, x, y in video pixels)}: one file per viewer, lost samples out."""
    from scipy.io import loadmat

    samples = {}
    for path in sorted((folder / "gaze").glob("*_video_triple_jump_labelled_*.mat")):
        viewer = path.name.split("_")[0]
        if viewer in samples:
            continue  # the MN and RA files of a viewer hold the same samples (only the labels differ)
        pos = loadmat(path, squeeze_me=True, struct_as_record=False)["ETdata"].pos
        lost = (pos[:, 3] == 0) & (pos[:, 4] == 0)
        # microseconds, and pixels with 4 decimals: rounded so, the CSV holds exactly these numbers
        samples[viewer] = (np.round((pos[~lost, 0] - pos[0, 0]) / 1e6, 6), np.round(pos[~lost, 3] - SCREEN_OFFSET[0], 4),
                           np.round(pos[~lost, 4] - SCREEN_OFFSET[1], 4))
    return samples


@pytest.fixture(scope="module")
def lund_run(tmp_path_factory):
    folder = lund2013()
    workdir = tmp_path_factory.mktemp("lund2013")
    (workdir / "triple_jump.avi").symlink_to(folder / "triple_jump.avi")
    samples = viewers_samples(folder)
    (workdir / "gaze").mkdir()
    with open(workdir / "gaze" / "triple_jump.csv", "w") as handle:
        handle.write("participant,time,x,y\n")
        for viewer, (t, x, y) in samples.items():
            handle.writelines(f"{viewer},{a:.6f},{b:.4f},{c:.4f}\n" for a, b, c in zip(t, x, y))
    # The yardsticks do not depend on the model: a per-frame one at a quarter of the size takes 15 s
    # here, where DeepGaze MR at 720x576 takes minutes on a CPU.
    write_config(workdir, {"videos": ["triple_jump.avi"], "model": "deepgaze_iii", "scale": 0.25,
                           "weights": "untrained", "chunk_frames": 150, "threads": 2, "gaze": "gaze/{video}.csv",
                           "pixels_per_degree": PIXELS_PER_DEGREE})
    snakemake(workdir, "--cores", "2")
    return workdir, samples


def gaussian_blur(points, shape, sigma):
    """The points' impulses blurred, not normalised (the blur is linear: the others' sum is their blur)."""
    from scipy.ndimage import gaussian_filter

    impulses = np.zeros(shape)
    np.add.at(impulses, (points[:, 1], points[:, 0]), 1.0)
    return gaussian_filter(impulses, sigma, mode="constant", truncate=4.0)


def rank_auc(positives, negatives):
    """P(positive > negative) + 0.5 P(equal), by sorting."""
    ordered = np.sort(negatives)
    below = np.searchsorted(ordered, positives, side="left")
    equal = np.searchsorted(ordered, positives, side="right") - below
    return float(np.mean((below + 0.5 * equal) / len(ordered)))


def independent_humans(samples, times, end, log_b, sigma):
    """Mean over frames of the humans' leave-one-out metrics, from the definitions (docs/evaluation.md)."""
    from scipy.optimize import minimize_scalar

    height, width = log_b.shape
    n = height * width
    frame_points = {}  # frame -> viewer -> (k, 2) integer pixels
    for viewer, (t, x, y) in samples.items():
        frame = np.searchsorted(times, t, side="right") - 1
        keep = (t < end) & (frame >= 0) & (x >= 0) & (x < width) & (y >= 0) & (y < height)
        for f in np.unique(frame[keep]):
            mine = keep & (frame == f)
            frame_points.setdefault(int(f), {})[viewer] = np.stack([np.floor(x[mine]), np.floor(y[mine])], 1).astype(int)
    b = np.exp(log_b)
    cases = []
    for f, viewers in sorted(frame_points.items()):
        if len(viewers) < 2:
            continue  # no others to predict the one viewer
        blurred = {v: gaussian_blur(p, log_b.shape, sigma) for v, p in viewers.items()}
        for viewer, own in viewers.items():
            others = sum(g for v, g in blurred.items() if v != viewer)
            gold = (1 - 1e-20) * others / others.sum() + 1e-20 / n
            cases.append((f, own, gold, blurred[viewer] / blurred[viewer].sum()))
    gold_at = np.concatenate([gold[own[:, 1], own[:, 0]] for _, own, gold, _ in cases])
    b_at = np.concatenate([b[own[:, 1], own[:, 0]] for _, own, _, _ in cases])
    w = minimize_scalar(lambda w: -np.mean(np.log((1 - w) * gold_at + w * b_at)), bounds=(0, 1),
                        method="bounded", options={"xatol": 1e-10}).x
    per_frame = {}
    everyone = {f: np.concatenate(list(vs.values())) for f, vs in frame_points.items()}
    for f, own, gold, g_own in cases:
        ys, xs = own[:, 1], own[:, 0]
        log_r = np.log((1 - w) * gold[ys, xs] + w * b[ys, xs])
        shuffled = np.concatenate([p for other, p in everyone.items() if other != f])
        s = np.log(gold) - log_b
        per_frame.setdefault(f, []).append((len(own), {
            "log_likelihood_bits": np.mean(log_r) / math.log(2) + math.log2(n),
            "information_gain_bits": np.mean(log_r - log_b[ys, xs]) / math.log(2),
            "NSS": np.mean((gold[ys, xs] - gold.mean()) / gold.std()),
            "AUC_Judd": rank_auc(gold[ys, xs], gold.ravel()),
            "sAUC": rank_auc(s[ys, xs], s[shuffled[:, 1], shuffled[:, 0]]),
            "CC": np.corrcoef(gold.ravel(), g_own.ravel())[0, 1],
            "KLDiv": np.sum(g_own * np.log(EPS + g_own / (gold + EPS))),
            "SIM": np.minimum(gold, g_own).sum(),
        }))
    frames = []
    for values in per_frame.values():  # a frame: its viewers weighted by their points
        weights = np.array([count for count, _ in values], float)
        frames.append({m: np.dot(weights, [v[m] for _, v in values]) / weights.sum() for m in values[0][1]})
    return w, len(frames), {m: float(np.mean([f[m] for f in frames])) for m in frames[0]}


def test_the_summary_holds_model_center_bias_and_humans_equal_to_an_independent_computation(lund_run):
    import zarr

    workdir, samples = lund_run
    rows = list(csv.DictReader((workdir / "results" / "metrics_summary.csv").open()))
    mine = {r["predictor"]: r for r in rows if r["video"] == "triple_jump"}
    assert list(mine) == ["model", "center_bias", "humans_loo"]
    print("\n" + "\n".join(",".join(r.values()) for r in rows))  # the figures, for the record

    group = zarr.open_group(str(workdir / "results" / "triple_jump" / "saliency.zarr"), mode="r")
    times = group["time"][:]
    log_b = np.asarray(group["log_center_bias"][:], np.float64)
    log_b -= np.log(np.exp(log_b).sum())
    sigma = PIXELS_PER_DEGREE / (2 * math.sqrt(2 * math.log(2)))  # 1 degree FWHM
    w, frames, expected = independent_humans(samples, times, times[-1] + 1 / 25, log_b, sigma)
    humans = mine["humans_loo"]
    assert int(humans["frames"]) == frames
    assert float(humans["center_bias_weight"]) == pytest.approx(w, abs=1e-6)
    for name, value in expected.items():
        tolerance = 1e-3 if "AUC" in name else 1e-6  # AUCs rank the float32 log-density
        assert float(humans[name]) == pytest.approx(value, abs=tolerance, rel=1e-6), name
    # the viewers predict each other far better than chance; untrained weights do not
    assert float(humans["information_gain_bits"]) > 1 and float(humans["AUC_Judd"]) > 0.8
    assert abs(float(mine["model"]["information_gain_explained"])) < 0.05
    viewers = list(csv.DictReader((workdir / "results" / "triple_jump" / "metrics_participants.csv").open()))
    assert sorted({r["participant"] for r in viewers}) == sorted(samples) and len(samples) == 6


def test_the_report_opens_on_the_table_in_a_browser(lund_run, tmp_path):
    workdir, _ = lund_run
    snakemake(workdir, "--report", "report.html")
    html = (workdir / "report.html").read_text()
    assert "humans (leave one out)" in html and "Untrained weights" in html
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("no chromium here (Debian: apt-get install chromium) to look at the page")
    shot = tmp_path / "first_page.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", f"--screenshot={shot}",
                    "--window-size=1400,2000", f"file://{workdir / 'report.html'}"],
                   capture_output=True, timeout=120, check=True)
    import cv2

    picture = cv2.cvtColor(cv2.imread(str(shot)), cv2.COLOR_BGR2RGB).astype(int)
    banner = (abs(picture[..., 0] - 0xB9) < 8) & (picture[..., 1] < 0x30) & (picture[..., 2] < 0x30)
    rows, columns = np.nonzero(banner)
    assert banner.sum() > 20000, "no red banner on the first page"  # drawn, not only in the HTML
    assert rows.min() < 600  # near the top, above the description
    if os.environ.get("SALIENCE_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["SALIENCE_KEEP_SCREENSHOT"])
