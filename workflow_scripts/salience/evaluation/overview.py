"""The report's first page: what made the maps, and how they compare with people.

``snakemake --report`` opens on the workflow description (report/workflow.rst),
which includes the HTML fragment written here (``results/overview.html``):

- a red banner where the weights are untrained (the maps are random);
- the model, its weights and their sha256, as recorded in each store;
- per video: the summary table (model vs center bias vs humans, one row
  per metric), the fitted weight of the humans' mixture and a labelled
  model/human picture (one of the snapshots) with its time and colour bar.

Everything is inside the fragment (pictures as data URIs): the report is one
file that can be mailed.
"""

from __future__ import annotations

import base64
import csv
import html
import math
from pathlib import Path

from ..atomic import write_text

# (column of metrics_summary.csv, label, which way is better)
METRIC_LABELS = (
    ("log_likelihood_bits", "log-likelihood (bits per point over uniform)", "higher"),
    ("information_gain_bits", "information gain (bits per point over the center bias)", "higher"),
    ("NSS", "NSS", "higher"),
    ("AUC_Judd", "AUC (Judd)", "higher"),
    ("sAUC", "shuffled AUC", "higher"),
    ("CC", "CC", "higher"),
    ("KLDiv", "KL divergence", "lower"),
    ("SIM", "SIM", "higher"),
    ("information_gain_explained", "share of the humans' information gain", "higher"),
)
PREDICTOR_LABELS = {"model": "model", "center_bias": "center bias", "humans_loo": "humans (leave one out)"}
PROFILE_TEXT = {
    "default": "default: pysaliency's definitions; each video's frames averaged, then the videos",
    "dhf1k": "dhf1k: the DHF1K benchmark's definitions (binary fixation maps for NSS and the AUCs, "
             "sAUC against 10 random other frames, 1 degree ground-truth blur); all frames pooled",
}

# Snakemake's report shows the workflow description in a column 32rem wide
# (its classes prose, max-w-lg); the overview's pictures need more. Should
# the report's classes change, the page stays readable, only narrower.
STYLE = """<style>
.prose.max-w-lg { max-width: 54rem; }
.salience-overview { font-size: 0.85rem; }
.salience-banner { background: #b91c1c; color: #fff; padding: 0.6rem 0.8rem; border-radius: 0.3rem;
  font-weight: 600; margin: 0.5rem 0 1rem 0; }
.salience-overview table { border-collapse: collapse; margin: 0.4rem 0; }
.salience-overview th, .salience-overview td { border-bottom: 1px solid #d1d5db; padding: 0.15rem 0.5rem; }
.salience-overview td.number { text-align: right; font-variant-numeric: tabular-nums; }
.salience-overview code { font-size: 0.75rem; word-break: break-all; }
.salience-overview img { max-width: 100%; border: 1px solid #d1d5db; }
</style>"""


def read_summary(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _number(text: str) -> str:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return ""
    return "–" if math.isnan(value) else f"{round(value, 3) + 0.0:.3f}"  # + 0.0: no "-0.000"


def summary_table(rows: list[dict]) -> str:
    """One video's rows of metrics_summary.csv as an HTML table: a row per metric, a column per predictor."""
    by_predictor = {row["predictor"]: row for row in rows}
    predictors = [p for p in PREDICTOR_LABELS if p in by_predictor]
    head = "".join(f"<th>{html.escape(PREDICTOR_LABELS[p])}</th>" for p in predictors)
    lines = [f"<table><thead><tr><th>metric</th>{head}</tr></thead><tbody>"]
    for column, label, better in METRIC_LABELS:
        if not any(column in by_predictor[p] for p in predictors):
            continue
        cells = "".join(f'<td class="number">{_number(by_predictor[p].get(column, ""))}</td>' for p in predictors)
        lines.append(f'<tr><td title="{better} is better">{html.escape(label)} '
                     f'{"↑" if better == "higher" else "↓"}</td>{cells}</tr>')
    lines.append("</tbody></table>")
    return "".join(lines)


def describe_weights(attrs: dict) -> str:
    """The model and its files as recorded in a store's attributes (the truth of its maps)."""
    weights = attrs.get("weights", "?")
    parts = [f"model <b>{html.escape(str(attrs.get('model', '?')))}</b>",
             f"weights <b>{html.escape(str(weights))}</b>"]
    digest = attrs.get("weights_sha256")
    if digest and digest != "untrained":
        parts.append(f"sha256 <code>{html.escape(digest)}</code>")
    parts.append(f"center bias <b>{html.escape(str(attrs.get('center_bias', '?')))}</b>")
    bias_file = (attrs.get("weights_files") or {}).get("center_bias")
    if bias_file:
        parts.append(f"center-bias file sha256 <code>{html.escape(bias_file['sha256'])}</code>")
    return "; ".join(parts)


def _picture(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_overview(output, *, videos: dict, summary=None, profile: str = "default") -> None:
    """Write the first page's fragment.

    ``videos``: {video id: (store attributes (dict), snapshot PNG path or None)},
    ``summary``: metrics_summary.csv (None without gaze).
    """
    rows = read_summary(summary) if summary else []
    untrained = sorted(video for video, (attrs, _) in videos.items() if attrs.get("weights") == "untrained")
    parts = [STYLE, '<div class="salience-overview">']
    if untrained:
        parts.append('<div class="salience-banner">Untrained weights (config <code>weights: untrained</code>): '
                     "the maps come from a randomly initialised model. They test the workflow and say "
                     "nothing about where people look.</div>")
    weights = {describe_weights(attrs) for attrs, _ in videos.values()}
    for text in sorted(weights):
        parts.append(f"<p>{text}</p>")
    if rows:
        parts.append(f"<p>Evaluation profile <b>{html.escape(PROFILE_TEXT.get(profile, profile))}</b>. "
                     "Center bias: the model's own prior as the map of every frame. Humans: for each "
                     "viewer, the blurred gaze of the other viewers in the same frame (the ceiling a "
                     "model can hope for); for log-likelihood and information gain mixed with the center "
                     "bias at the weight w fitted per video.</p>")
    for video, (attrs, picture) in videos.items():
        parts.append(f"<h3>{html.escape(video)}</h3>")
        mine = [row for row in rows if row["video"] == video]
        if mine:
            parts.append(summary_table(mine))
            parts.append(f"<p>{_counts(mine)}</p>")
        if picture:
            parts.append(_picture(Path(picture), f"{video}: model and humans"))
    everything = [row for row in rows if row["video"] == "all"]
    if everything and len(videos) > 1:
        parts.append("<h3>All videos</h3>" + summary_table(everything) + f"<p>{_counts(everything)}</p>")
    parts.append("</div>")
    write_text(output, "\n".join(parts) + "\n")


def _counts(rows: list[dict]) -> str:
    by_predictor = {row["predictor"]: row for row in rows}
    text = []
    model = by_predictor.get("model")
    if model:
        text.append(f"{model['frames']} frames with gaze, {model['points']} gaze points")
    humans = by_predictor.get("humans_loo")
    if humans:
        text.append(f"humans: {humans['frames']} frames with at least two viewers")
        weight = _number(humans.get("center_bias_weight", ""))
        if weight and weight != "–":
            text.append(f"center-bias weight of the humans' mixture w = {weight}")
    return html.escape("; ".join(text)) + "."
