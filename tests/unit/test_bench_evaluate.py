"""bench_evaluate.py runs, and its table says what it must (tiny sizes: seconds, not figures)."""

from __future__ import annotations

import pytest
from helpers.benchmarks import run, table_rows

pytestmark = pytest.mark.slow


def test_bench_evaluate_times_each_length_and_extrapolates():
    out = run("bench_evaluate.py", "--size", "64x48", "--frames", "10,30", "--points", "5", "--video-frames", "60")
    rows = table_rows(out, "frames")
    assert [(r["frames"], r["points"]) for r in rows] == [("10", "50"), ("30", "150")]
    assert all(float(r["wall s"]) > 0 and float(r["CPU s"]) > 0 and float(r["peak RSS MiB"]) > 0 for r in rows)
    assert "With the gaze table of a 60-frame video (300 points; first 30 frames timed)" in out
    assert "min (extrapolated; CPU" in out
