"""The workflow with eye-tracking data, end to end: every output, the report, early CSV errors, one timeline."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import pytest
import yaml
import helpers.snakemake
from helpers.snakemake import snakemake
from helpers.videos import make_late_ts, make_video, stream_info

pytestmark = pytest.mark.slow

FRAMES, WIDTH, HEIGHT, FPS = 12, 48, 32, 10


EVALUATED_RUN = {"videos": ["clip.mp4"], "weights": "untrained", "chunk_frames": FRAMES, "threads": 1,
                 "gaze": "gaze/{video}.csv", "aoi": {"clip": "aoi.csv"}, "pixels_per_degree": 4}


def write_config(workdir: Path, **overrides) -> None:
    helpers.snakemake.write_config(workdir, EVALUATED_RUN, **overrides)


def write_data(workdir: Path) -> None:
    (workdir / "gaze").mkdir(exist_ok=True)
    rows = [f"p{i % 3},{i * 0.05:.3f},{5 + i * 3 % 40},{4 + i % 25}" for i in range(2 * FRAMES)]
    rows += ["p0,9.0,1,1", "p1,0.3,99,1"]  # after the video; outside the frame
    (workdir / "gaze" / "clip.csv").write_text("participant,time,x,y\n" + "\n".join(rows) + "\n")
    (workdir / "aoi.csv").write_text("name,x0,y0,x1,y1,time\nhud,0,0,48,6,\n"
                                     "player,0,10,10,20,0\nplayer,30,10,40,20,1.1\n")


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("evaluated")
    make_video(workdir / "clip.mp4", frames=FRAMES, size=f"{WIDTH}x{HEIGHT}", fps=FPS, audio=True)
    write_data(workdir)
    write_config(workdir)
    snakemake(workdir, "--cores", "2")
    return workdir


def frames_and_size(path: Path) -> tuple[int, int, int]:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    return count, int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))


def test_every_evaluation_output(evaluated_run):
    results = evaluated_run / "results" / "clip"
    every = list(csv.DictReader((results / "metrics.csv").open()))
    for predictor in ("model", "center_bias", "humans_loo"):  # two viewers in every frame
        rows = [r for r in every if r["predictor"] == predictor]
        assert [int(r["frame"]) for r in rows] == list(range(FRAMES)), predictor  # two points per frame
        assert {r["n_points"] for r in rows} == {"2"}
    metrics = [r for r in every if r["predictor"] == "model"]
    log = (evaluated_run / "logs" / "clip" / "gaze_points.log").read_text()
    assert "participant p0: 8 points (samples) on 8 frames; dropped: 1 outside the video" in log
    assert "participant p1: 8 points (samples) on 8 frames; dropped: 1 outside the frame" in log
    points = list(csv.DictReader((results / "gaze_points.csv").open()))
    assert len(points) == 2 * FRAMES and {r["participant"] for r in points} == {"p0", "p1", "p2"}
    log = (evaluated_run / "logs" / "clip" / "evaluate_gaze.log").read_text()
    assert "3 viewers; the humans' mixture gives the center bias a weight of" in log
    people = list(csv.DictReader((results / "metrics_participants.csv").open()))
    assert [(r["participant"], r["points"]) for r in people if r["predictor"] == "model"] == [
        ("p0", "8"), ("p1", "8"), ("p2", "8")]
    summary = list(csv.DictReader((evaluated_run / "results" / "metrics_summary.csv").open()))
    assert [(r["video"], r["predictor"]) for r in summary] == [
        (video, predictor) for video in ("clip", "all") for predictor in ("model", "center_bias", "humans_loo")]
    assert summary[0]["frames"] == str(FRAMES)
    mean_nss = sum(float(r["NSS"]) for r in metrics) / FRAMES
    assert float(summary[3]["NSS"]) == pytest.approx(mean_nss, abs=1e-12)
    assert float(summary[1]["information_gain_bits"]) == pytest.approx(0.0, abs=1e-6)  # the center bias itself
    assert float(summary[2]["information_gain_explained"]) == 1.0 and 0 <= float(summary[2]["center_bias_weight"]) <= 1
    viewers = list(csv.DictReader((results / "metrics_participants.csv").open()))
    assert [(r["predictor"], r["participant"]) for r in viewers] == [
        (predictor, viewer) for predictor in ("model", "center_bias", "humans_loo") for viewer in ("p0", "p1", "p2")]
    assert sum(int(r["points"]) for r in viewers if r["predictor"] == "model") == 2 * FRAMES

    aoi = list(csv.DictReader((results / "aoi.csv").open()))
    assert sum(r["aoi"] == "hud" for r in aoi) == FRAMES
    assert sum(r["aoi"] == "player" for r in aoi) == FRAMES  # 0 .. 1.1 s covers every frame
    assert (results / "aoi.svg").read_text().lstrip().startswith("<?xml")
    assert (results / "concentration.svg").exists() and (results / "concentration.csv").exists()
    assert len(list((results / "snapshots").glob("frame_*.png"))) == 4

    assert frames_and_size(results / "human_heatmap.mp4") == (FRAMES, WIDTH, HEIGHT)
    assert frames_and_size(results / "model_vs_human.mp4") == (FRAMES, 2 * WIDTH, HEIGHT)
    for name in ("human_heatmap.mp4", "model_vs_human.mp4"):
        info = stream_info(results / name)
        assert "h264" in info and "Audio: aac" in info, info
        assert cv2.VideoCapture(str(results / name)).get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    assert not [p for p in evaluated_run.rglob("*partial*")]


def report_results(html: str) -> dict:
    start = html.index("results = {") + len("results = ")
    return json.JSONDecoder().raw_decode(html[start:])[0]


def test_report_holds_frames_plots_and_metrics(evaluated_run):
    snakemake(evaluated_run, "--report", "report.html")
    html = (evaluated_run / "report.html").read_text()
    entries = report_results(html)
    by_rule = {}
    for path, entry in entries.items():
        by_rule.setdefault(entry["job_properties"]["rule"], []).append((path, entry))
    assert len(by_rule["snapshots"]) == 4
    assert [p for p, _ in by_rule["areas_of_interest"]] == ["results/clip/aoi.svg"]
    assert [p for p, _ in by_rule["concentration"]] == ["results/clip/concentration.svg"]
    assert [p for p, _ in by_rule["summarize_metrics"]] == ["results/metrics_summary.csv"]
    assert [p for p, _ in by_rule["overview"]] == ["results/overview.html"]
    assert "share of the model" in by_rule["areas_of_interest"][0][1]["caption"]
    assert "mean over" in by_rule["summarize_metrics"][0][1]["caption"]
    # the first page (the workflow description) holds the overview: the table itself, the banner
    first_page = workflow_description(html)
    assert "Untrained weights" in first_page and "humans (leave one out)" in first_page
    assert first_page.index("Untrained weights") < first_page.index("Saliency maps of videos")
    assert "data:image/png;base64," in first_page  # a labelled frame, inside the page


def workflow_description(html: str) -> str:
    start = html.index("workflow_desc = ") + len("workflow_desc = ")
    return json.JSONDecoder().raw_decode(html[start:])[0]


def test_aoi_outlines_on_the_overlay_rerender_only_the_videos(evaluated_run, tmp_path):
    import shutil

    import numpy as np
    from helpers.videos import decode_all

    run = tmp_path / "run"
    shutil.copytree(evaluated_run, run, symlinks=True)  # mtimes kept: Snakemake sees a finished run
    plain = decode_all(run / "results" / "clip" / "overlay.mp4")
    write_config(run, render={"aoi_outlines": True})
    out = snakemake(run, "--dry-run", "--quiet", "rules").stdout
    planned = {line.split()[0] for line in out.splitlines()[1:] if line.strip() and line.split()[-1].isdigit()}
    assert planned == {"render_segment", "join_videos", "all", "total"}, out  # no prediction again
    snakemake(run, "--cores", "2")
    outlined = decode_all(run / "results" / "clip" / "overlay.mp4")
    assert len(outlined) == len(plain) == FRAMES
    # the hud box (0,0)-(48,6) is outlined in cyan on every frame; far from the boxes nothing changed
    top = outlined[5][1].astype(int)  # row 1: inside the 2-pixel outline
    assert (top[:, 1] - top[:, 0]).mean() > 80 and (top[:, 2] - top[:, 0]).mean() > 80
    unchanged = np.abs(outlined[5][26:, 14:28].astype(int) - plain[5][26:, 14:28].astype(int))
    assert unchanged.max() <= 12  # encoder rounding only
    assert not np.array_equal(outlined[5][:6], plain[5][:6])


def test_videos_without_gaze_are_not_evaluated(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=FRAMES, size=f"{WIDTH}x{HEIGHT}", fps=FPS)
    make_video(tmp_path / "other.mp4", frames=6, size=f"{WIDTH}x{HEIGHT}")
    write_data(tmp_path)
    write_config(tmp_path, videos=["clip.mp4", "other.mp4"])
    out = snakemake(tmp_path, "--dry-run", "--quiet", "rules").stdout
    jobs = dict(line.split() for line in out.splitlines()
                if len(line.split()) == 2 and line.split()[1].isdigit())
    assert jobs["gaze_points"] == "1" and jobs["evaluate_gaze"] == "1" and jobs["render_human"] == "1"
    assert jobs["areas_of_interest"] == "1"
    assert jobs["concentration"] == "2" and jobs["snapshots"] == "2" and jobs["summarize_metrics"] == "1"
    assert jobs["overview"] == "1"


@pytest.mark.parametrize("file, text, needles", [
    ("gaze/clip.csv", "time,x,y\n0.1,1,1\n0.2,one,1\n", ["gaze/clip.csv, line 3, column 'x': 'one' is not a number"]),
    ("gaze/clip.csv", "time,x\n0.1,1\n", ["gaze/clip.csv, line 1: no column 'y'"]),
    ("aoi.csv", "name,x0,y0,x1\nhud,0,0,1\n", ["aoi.csv, line 1: the AOI CSV has no column y1"]),
])
def test_bad_csv_stops_the_run_before_any_job(tmp_path, file, text, needles):
    make_video(tmp_path / "clip.mp4", frames=FRAMES, size=f"{WIDTH}x{HEIGHT}", fps=FPS)
    write_data(tmp_path)
    (tmp_path / file).write_text(text)
    write_config(tmp_path)
    result = snakemake(tmp_path, "--dry-run", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and all(n in output for n in needles), output


def test_gaze_without_viewing_geometry_is_a_config_error(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=6, size=f"{WIDTH}x{HEIGHT}")
    write_data(tmp_path)
    write_config(tmp_path, pixels_per_degree=None)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    del config["pixels_per_degree"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "--dry-run", check=False)
    assert result.returncode != 0 and "needs the viewing geometry: 'pixels_per_degree'" in result.stdout + result.stderr


def test_one_timeline_on_an_mpeg_ts_whose_clock_starts_late(tmp_path):
    """A .ts whose first frame is at 1.48 s and more on its own clock: every time the workflow writes starts at 0.

    The gaze (seconds from the first frame shown, as a lab counts them) lands
    on the frame shown then; the store's times, the CSV outputs and the
    rendered videos agree.
    """
    import numpy as np
    import zarr

    from salience import video

    make_late_ts(tmp_path / "clip.ts", frames=14)
    info = video.probe(tmp_path / "clip.ts")
    assert info.timestamps[0] > 1.48
    (tmp_path / "gaze").mkdir()
    # one participant looking at (10, 10) at 0.04 s steps from 0: exactly frame k at time k * 0.04
    (tmp_path / "gaze" / "clip.csv").write_text("time,x,y\n" + "".join(f"{k * 0.04:.2f},10,{k}\n" for k in range(14)))
    (tmp_path / "aoi.csv").write_text("name,x0,y0,x1,y1,start,end\nlate,0,0,20,20,0.2,0.4\n")
    write_config(tmp_path, videos=["clip.ts"], chunk_frames=14, aoi={"clip": "aoi.csv"})
    snakemake(tmp_path, "--cores", "2")
    results = tmp_path / "results" / "clip"
    times = zarr.open_group(str(results / "saliency.zarr"), mode="r")["time"][:]
    np.testing.assert_allclose(times, np.arange(14) / 25, atol=1e-9)
    points = list(csv.DictReader((results / "gaze_points.csv").open()))
    assert [(int(r["frame"]), int(float(r["y"]))) for r in points] == [(k, k) for k in range(14)]
    for table in ("metrics.csv", "concentration.csv", "aoi.csv"):
        rows = list(csv.DictReader((results / table).open()))
        assert all(float(r["time"]) == pytest.approx(times[int(r["frame"])], abs=1e-9) for r in rows), table
    aoi = {int(r["frame"]) for r in csv.DictReader((results / "aoi.csv").open()) if r["aoi"] == "late"}
    assert aoi == set(range(5, 10))  # 0.2 <= t < 0.4 on the video's timeline
    for output in ("heatmap.mp4", "overlay.mp4", "human_heatmap.mp4"):
        np.testing.assert_allclose(video.probe(results / output).timestamps, times, atol=1e-3, err_msg=output)


def test_dhf1k_profile_with_another_blur_is_a_config_error(tmp_path):
    make_video(tmp_path / "clip.mp4", frames=6, size=f"{WIDTH}x{HEIGHT}")
    write_data(tmp_path)
    write_config(tmp_path, evaluation_profile="dhf1k", gaze_fwhm_degrees=2.0)
    result = snakemake(tmp_path, "--dry-run", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "evaluation_profile 'dhf1k' fixes the ground truth's blur" in output, output
