"""Reading eye-tracker exports: rows per second and peak memory of each format's reader.

    python benchmarks/bench_trackers.py                   # 10 minutes of 1200 Hz (720,000 samples)
    python benchmarks/bench_trackers.py --minutes 30 --rate 1000

Writes, once in --scratch, one recording of --minutes at --rate Hz (a slow
random walk over a 1920x1080 screen, 3 % lost samples, a fixation label
every 50 samples) as a Tobii Pro Lab TSV with its usual ~25 columns, an
EyeLink ASC and a semicolon/decimal-comma CSV, then reads each with
``salience.evaluation.trackers.read_recording`` in a fresh process:
seconds, rows per second and the process's peak memory (a flat peak across
--minutes shows that memory follows the kept columns, not the file).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import harness
import numpy as np
from harness import Timer

TOBII = ["Recording timestamp [μs]", "Computer timestamp [μs]", "Sensor", "Participant name", "Recording name",
         "Recording date", "Recording resolution height", "Recording resolution width", "Gaze point X [DACS px]",
         "Gaze point Y [DACS px]", "Gaze point left X [DACS px]", "Gaze point left Y [DACS px]",
         "Gaze point right X [DACS px]", "Gaze point right Y [DACS px]", "Pupil diameter left [mm]",
         "Pupil diameter right [mm]", "Validity left", "Validity right", "Presented Stimulus name",
         "Presented Media name", "Presented Media width", "Presented Media height",
         "Presented Media position X (DACSpx)", "Presented Media position Y (DACSpx)", "Eye movement type",
         "Gaze event duration [ms]", "Eye movement type index", "Fixation point X [DACS px]",
         "Fixation point Y [DACS px]", "Event", "Event value"]


def make_files(folder: Path, minutes: float, rate: float) -> dict:
    count = int(minutes * 60 * rate)
    rng = np.random.default_rng(0)
    t_us = np.round(np.arange(count) * 1e6 / rate).astype(np.int64)
    x = np.clip(960 + np.cumsum(rng.normal(0, 2, count)), 0, 1919)
    y = np.clip(540 + np.cumsum(rng.normal(0, 2, count)), 0, 1079)
    lost = rng.random(count) < 0.03
    paths = {"tobii": folder / f"rec_{minutes:g}.tsv", "eyelink": folder / f"rec_{minutes:g}.asc",
             "csv": folder / f"rec_{minutes:g}.csv"}
    if all(p.exists() for p in paths.values()):
        return paths
    with open(paths["tobii"], "w", encoding="utf-8") as out:
        out.write("\t".join(TOBII) + "\n")
        for i in range(count):
            gx, gy = ("", "") if lost[i] else (f"{x[i]:.1f}", f"{y[i]:.1f}")
            kind, index = ("Fixation", str(i // 50 + 1)) if i % 100 < 50 else ("Saccade", str(i // 100 + 1))
            fx, fy = (f"{x[i - i % 50]:.0f}", f"{y[i - i % 50]:.0f}") if kind == "Fixation" else ("", "")
            out.write("\t".join([str(t_us[i]), str(t_us[i] + 123456789), "Eye Tracker", "P01", "Recording1",
                                 "2026-01-01", "1080", "1920", gx, gy, gx, gy, gx, gy, "3.1", "3.2", "Valid",
                                 "Valid", "clip", "clip.mp4", "1280", "720", "320", "180", kind, "100", index,
                                 fx, fy, "", ""]) + "\n")
    with open(paths["eyelink"], "w") as out:
        out.write("SAMPLES\tGAZE\tLEFT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2\nMSG\t0 VIDEO_START\n")
        for i in range(count):
            ms = t_us[i] / 1000
            out.write(f"{ms:.1f}\t   .\t   .\t    0.0\t...\n" if lost[i] else
                      f"{ms:.1f}\t{x[i]:7.1f}\t{y[i]:7.1f}\t 1000.0\t...\n")
    with open(paths["csv"], "w") as out:
        out.write("time;x;y\n")
        for i in range(count):
            cells = ("", "") if lost[i] else (f"{x[i]:.1f}", f"{y[i]:.1f}")
            out.write(f"{t_us[i] / 1e6:.6f};{cells[0]};{cells[1]}\n".replace(".", ","))
    return paths


def measure(path: str, fmt: str) -> dict:
    from salience.evaluation.trackers import read_recording

    harness.reset_peak_rss()
    before = harness.peak_rss_mib()
    timer = Timer()
    recording = read_recording(path, fmt)
    seconds = timer.seconds()
    return {"samples": len(recording), "seconds": seconds, "rss_peak": harness.peak_rss_mib(),
            "rss_delta": harness.peak_rss_mib() - before}


def main() -> None:
    harness.ensure_importable()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=harness.parse_list, default=[10.0], help="comma-separated")
    parser.add_argument("--rate", type=float, default=1200.0)
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "salience-bench-trackers")
    args = parser.parse_args()
    sys.path.insert(0, str(harness.REPO / "workflow_scripts"))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(harness.REPO / "workflow_scripts"),
                                                os.environ.get("PYTHONPATH", "")])
    args.scratch.mkdir(parents=True, exist_ok=True)
    rows = []
    for minutes in (float(m) for m in args.minutes):
        paths = make_files(args.scratch, minutes, args.rate)
        for fmt, path in paths.items():
            result = harness.run_isolated(measure, path=str(path), fmt=fmt)
            size = path.stat().st_size / harness.MIB
            rows.append([fmt, minutes, result["samples"], f"{size:.0f}", result["seconds"],
                         result["samples"] / result["seconds"], result["rss_peak"], result["rss_delta"]])
    print(harness.markdown_table(["format", "minutes", "samples", "file MiB", "seconds", "samples/s",
                                  "peak RSS MiB", "RSS growth MiB"], rows))


if __name__ == "__main__":
    main()
