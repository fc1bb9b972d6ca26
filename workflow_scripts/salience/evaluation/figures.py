"""Figures of evaluation results (SVG): AOI mass over time, map concentration over time.

Written atomically like every output; SVGs carry no date, so reruns give the
same bytes.
"""

from __future__ import annotations

import csv

from ..atomic import staged_file


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, output) -> None:
    """Save a matplotlib figure to ``output`` whole or not at all."""
    with staged_file(output, keep_extension=True) as temp:
        figure.savefig(temp, metadata={"Date": None} if temp.endswith(".svg") else None)


def plot_aoi(aoi_csv, output, *, title: str = "") -> None:
    """SVG of each AOI's mass over time (solid) and, with gaze, its human fraction (dots)."""
    plt = _pyplot()
    series: dict[str, dict[str, list]] = {}
    with open(aoi_csv, newline="") as handle:
        reader = csv.DictReader(handle)
        with_gaze = "human_fraction" in (reader.fieldnames or ())
        for row in reader:
            s = series.setdefault(row["aoi"], {"t": [], "mass": [], "th": [], "human": []})
            s["t"].append(float(row["time"]))
            s["mass"].append(float(row["mass"]))
            if with_gaze and row["human_fraction"]:
                s["th"].append(float(row["time"]))
                s["human"].append(float(row["human_fraction"]))
    figure, axes = plt.subplots(figsize=(8, 3.2))
    for index, (name, s) in enumerate(series.items()):
        color = f"C{index % 10}"
        axes.plot(s["t"], s["mass"], color=color, label=f"{name}: model")
        if s["human"]:
            axes.plot(s["th"], s["human"], ".", color=color, markersize=3, label=f"{name}: gaze")
    axes.set_xlabel("time (s)")
    axes.set_ylabel("share inside the AOI")
    axes.set_ylim(0, None)
    if title:
        axes.set_title(title)
    if series:
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    save_figure(figure, output)
    plt.close(figure)


ENTROPY_SPAN = 0.1  # bits: the least range the entropy axis shows


def readable_axis(axes, values, least_span: float) -> None:
    """Plain tick labels (no offset, no exponent), and at least ``least_span`` of range.

    A nearly constant series (an untrained model's entropy varies by 1e-10
    bit) would otherwise be stretched over the whole axis and labelled like
    ``1e-10+1.781378059e1``: rounding noise drawn as a trend.
    """
    from matplotlib.ticker import ScalarFormatter

    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    axes.yaxis.set_major_formatter(formatter)
    finite = [v for v in values if v == v]
    if finite and max(finite) - min(finite) < least_span:
        middle = (max(finite) + min(finite)) / 2
        axes.set_ylim(middle - least_span / 2, middle + least_span / 2)


def plot_concentration(csv_path, output, *, title: str = "") -> None:
    """SVG: entropy (bits, left axis) and top-5 % share (right axis) over time."""
    plt = _pyplot()
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    t = [float(r["time"]) for r in rows]
    entropy = [float(r["entropy_bits"]) for r in rows]
    figure, entropy_axes = plt.subplots(figsize=(8, 3.2))
    entropy_axes.plot(t, entropy, color="C0")
    readable_axis(entropy_axes, entropy, ENTROPY_SPAN)
    entropy_axes.set_xlabel("time (s)")
    entropy_axes.set_ylabel("entropy (bits)", color="C0")
    share_axes = entropy_axes.twinx()
    share_axes.plot(t, [float(r["top5_mass"]) for r in rows], color="C3")
    share_axes.set_ylabel("mass in top 5 % of pixels", color="C3")
    share_axes.set_ylim(0, 1)
    if title:
        entropy_axes.set_title(title)
    figure.tight_layout()
    save_figure(figure, output)
    plt.close(figure)
