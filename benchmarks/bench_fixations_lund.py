"""Agreement of the fixation detectors with the Lund 2013 experts (Cohen's kappa per sample).

    python benchmarks/bench_fixations_lund.py                  # I-VT and I-DT, documented defaults
    python benchmarks/bench_fixations_lund.py --shared ../shared --velocity-threshold 50

The Lund 2013 triple-jump recording (../shared/data/lund2013, GPL-3.0;
Larsson et al. 2013, Andersson et al. 2017): 500 Hz samples of 6 viewers,
each sample labelled by expert RA (all viewers) and MN (four). The samples
are the ones the workflow reads from the exports of
tests/data/lund2013/make_exports.py (ms times, 0.1 px), in screen pixels,
with the recording's geometry (1024x768 px on 38x30 cm at 67 cm).

Per viewer and expert, the kappa of "in a detected fixation" against the
expert's "fixation" (label 1), and against "fixation or smooth pursuit"
(labels 1 and 4: the eye on a target, which is where a saliency map is
judged). The last column is the experts' agreement with each other, where
both labelled the viewer: the ceiling of what a detector can reach.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "workflow_scripts"))
sys.path.insert(0, str(REPO / "tests"))

from helpers.lund2013 import exports  # noqa: E402
from salience.evaluation.fixations import FixationFilter, cohen_kappa, detect, geometry, labels  # noqa: E402


def main() -> None:
    defaults = FixationFilter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=exports.shared_dir())
    parser.add_argument("--methods", default="ivt,idt")
    parser.add_argument("--velocity-threshold", type=float, default=defaults.velocity_threshold)
    parser.add_argument("--window-ms", type=float, default=defaults.window_ms)
    parser.add_argument("--dispersion-threshold", type=float, default=defaults.dispersion_threshold)
    parser.add_argument("--min-duration-ms", type=float, default=None,
                        help="default: 60 for I-VT, 100 for I-DT (the documented defaults)")
    args = parser.parse_args()
    if args.shared is None:
        parser.error("no ../shared/data/lund2013 here: pass --shared")

    geom = geometry(screen=exports.SCREEN, screen_cm=(38, 30), distance_cm=67)
    viewers = [exports.load_viewer(args.shared, name) for name in exports.VIEWERS]
    print(f"# Lund 2013 triple jump, {len(viewers)} viewers, {geom.center_pixels_per_degree:.2f} px/degree at "
          "the centre")
    print(f"{'method':6} {'viewer':6} {'expert':6} {'fix %':>6} {'det %':>6} {'kappa fix':>9} "
          f"{'kappa fix+SP':>12} {'experts':>8}")
    for method in args.methods.split(","):
        settings = FixationFilter(method=method, velocity_threshold=args.velocity_threshold,
                                  window_ms=args.window_ms, dispersion_threshold=args.dispersion_threshold,
                                  min_duration_ms=args.min_duration_ms)
        kappas, kappas_sp = [], []
        for viewer in viewers:
            t = (viewer.time_ms - viewer.time_ms[0]) / 1000
            first, last = detect(t, viewer.x, viewer.y, geom, settings)
            found = labels(len(t), first, last)
            experts = viewer.labels
            between = (f"{cohen_kappa(experts['RA'] == 1, experts['MN'] == 1):8.3f}"
                       if {"RA", "MN"} <= set(experts) else f"{'':>8}")
            for expert, label in sorted(experts.items()):
                k = cohen_kappa(found, label == 1)
                k_sp = cohen_kappa(found, (label == 1) | (label == 4))
                kappas.append(k)
                kappas_sp.append(k_sp)
                print(f"{method:6} {viewer.name:6} {expert:6} {100 * np.mean(label == 1):6.1f} "
                      f"{100 * found.mean():6.1f} {k:9.3f} {k_sp:12.3f} {between}")
        print(f"{method:6} {'mean':6} {'':6} {'':>6} {'':>6} {np.mean(kappas):9.3f} {np.mean(kappas_sp):12.3f}")
        print(f"# {method}: {settings}")


if __name__ == "__main__":
    main()
