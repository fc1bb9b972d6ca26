"""The report's pieces: the overview page, readable plot axes, the evaluation profiles' names."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from salience.errors import ConfigError
from salience.evaluation import yardsticks
from salience.evaluation.overview import summary_table, write_overview

REPO = Path(__file__).resolve().parents[2]
SUMMARY = """video,predictor,frames,points,log_likelihood_bits,information_gain_bits,NSS,AUC_Judd,sAUC,CC,KLDiv,SIM,information_gain_explained,center_bias_weight
clip,model,12,24,0.5,0.25,1.0,0.7,0.6,0.3,1.5,0.4,0.125,
clip,center_bias,12,24,0.25,-1e-15,0.5,0.6,0.5,0.2,1.7,0.35,0.0,
clip,humans_loo,12,24,2.25,2.0,3.0,0.9,0.8,0.5,0.9,0.6,1.0,0.3125
all,model,12,24,0.5,0.25,1.0,0.7,0.6,0.3,1.5,0.4,0.125,
all,center_bias,12,24,0.25,-1e-15,0.5,0.6,0.5,0.2,1.7,0.35,0.0,
all,humans_loo,12,24,2.25,2.0,3.0,0.9,0.8,0.5,0.9,0.6,1.0,
"""


def cells(html: str) -> list[list[str]]:
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in re.findall(r"<tr>(.*?)</tr>", html)]


def test_overview_shows_the_table_the_weights_and_a_banner_for_untrained_weights(tmp_path):
    (tmp_path / "summary.csv").write_text(SUMMARY)
    picture = tmp_path / "frame.png"
    picture.write_bytes(b"\x89PNG fake")
    untrained = {"model": "deepgaze_mr", "weights": "untrained", "weights_sha256": "untrained",
                 "center_bias": "default"}
    write_overview(tmp_path / "overview.html", videos={"clip": (untrained, picture)}, summary=tmp_path / "summary.csv")
    page = (tmp_path / "overview.html").read_text()
    assert 'class="salience-banner"' in page and "Untrained weights" in page
    rows = cells(page)
    assert rows[0] == ["metric", "model", "center bias", "humans (leave one out)"]
    assert rows[1][1:] == ["0.500", "0.250", "2.250"]  # log-likelihood
    assert rows[2][1:] == ["0.250", "0.000", "2.000"]  # information gain: no "-0.000"
    assert rows[-1][1:] == ["0.125", "0.000", "1.000"]  # the share of the humans' information gain
    assert "w = 0.312" in page and "12 frames with gaze, 24 gaze points" in page
    assert 'src="data:image/png;base64,' in page
    assert page.count("<table>") == 1  # one video: no "all videos" table

    official = dict(untrained, weights="official", weights_sha256="ab" * 32,
                    weights_files={"center_bias": {"sha256": "cd" * 32}})
    write_overview(tmp_path / "overview.html", videos={"clip": (official, None)})
    page = (tmp_path / "overview.html").read_text()
    assert 'class="salience-banner"' not in page and "ab" * 32 in page and "cd" * 32 in page
    assert "<table>" not in page  # no gaze, no table


def test_summary_table_leaves_out_what_is_not_there():
    table = summary_table([{"predictor": "model", "NSS": "1.5", "sAUC": "nan"}])
    assert cells(table) == [["metric", "model"], ["NSS ↑", "1.500"], ["shuffled AUC ↑", "–"]]


def test_a_constant_entropy_is_drawn_flat_with_plain_labels(tmp_path):
    from salience.evaluation.figures import plot_concentration

    rows = ["frame,time,entropy_bits,top5_mass"]
    rows += [f"{i},{i / 25},{17.81378059 + 1e-10 * (i % 3)!r},0.05" for i in range(30)]
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    plot_concentration(tmp_path / "c.csv", tmp_path / "c.svg")
    labels = re.findall(r"<!-- (.*?) -->", (tmp_path / "c.svg").read_text())
    entropy_ticks = [float(t) for t in labels if t.startswith("17.")]
    assert entropy_ticks and max(entropy_ticks) - min(entropy_ticks) >= 0.05  # not 1e-10 stretched
    numbers = [t for t in labels if re.search(r"\d", t) and " " not in t]
    assert not [t for t in numbers if re.search(r"[eE+\u2212]", t)]  # no offset or exponent (the old 1e-10+1.78e1)


def test_profile_names_agree_everywhere():
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    assert schema["properties"]["evaluation_profile"]["enum"] == list(yardsticks.PROFILES)
    from salience.__main__ import build_parser

    parser = build_parser()
    actions = {a.dest: a for a in parser._subparsers._group_actions[0].choices["evaluate"]._actions}
    assert list(actions["profile"].choices) == list(yardsticks.PROFILES)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert config["evaluation_profile"] in yardsticks.PROFILES


def test_dhf1k_refuses_another_blur():
    yardsticks.check_profile({"evaluation_profile": "dhf1k", "gaze_fwhm_degrees": 1.0})
    yardsticks.check_profile({"evaluation_profile": "default", "gaze_fwhm_degrees": 2.0})
    with pytest.raises(ConfigError, match="dhf1k' fixes the ground truth's blur at 1 degree.*remove gaze_fwhm_degrees"):
        yardsticks.check_profile({"evaluation_profile": "dhf1k", "gaze_fwhm_degrees": 2.0})


def test_participant_means_leave_out_undefined_values():
    means = yardsticks.ParticipantMeans()
    metric = dict.fromkeys(yardsticks.METRICS, 1.0)
    means.add({("model", 1): dict(metric, n_points=2), ("humans_loo", 0): dict(metric, n_points=3)})
    means.add({("model", 1): dict(metric, n_points=1, sAUC=np.nan, NSS=3.0)})
    rows = list(means.rows(("a", "b")))
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [("model", "b", 2, 3), ("humans_loo", "a", 1, 3)]
    assert rows[0][4]["NSS"] == 2.0 and rows[0][4]["sAUC"] == 1.0
