"""benchmarks/gpu_acceptance.sh in its tiny CPU mode: it runs, and its table is well-formed.

The figures come from a GPU machine (docs/performance.md, "On a GPU");
here the same command runs at 64x48 / 128x96 on the CPU in about a minute.
"""

import os
import subprocess
from pathlib import Path

import pytest
from helpers.benchmarks import table_rows

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # the CPU mode, even on a GPU machine
    result = subprocess.run([str(REPO / "benchmarks" / "gpu_acceptance.sh"), "--tiny"], capture_output=True,
                            text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_it_runs_the_doctor_and_the_gpu_tests_first(tiny_run):
    assert "forward pass on cpu: ok" in tiny_run and "verdict: " in tiny_run
    assert "python3 -m pytest -m gpu tests/gpu/test_gpu.py" in tiny_run
    assert "skipped" in tiny_run and "no usable CUDA device" in tiny_run  # the reason, not a bare skip


def test_the_table_has_every_row_and_column(tiny_run):
    rows = table_rows(tiny_run, "model")
    assert list(rows[0]) == ["model", "size", "variant", "precision", "batch", "frames/s", "vs reference",
                             "vs authors", "peak GPU MiB", "peak RSS MiB", "decode %", "transfer %",
                             "model %", "write %", "% of ceiling", "max abs err"]
    kinds = {(r["model"], r["variant"], r["precision"], r["batch"]) for r in rows}
    for precision in ("fp32", "bf16"):
        assert ("deepgaze_mr", "reference strategy (re-implemented)", precision, "-") in kinds
        for batch in ("1", "4"):
            assert ("deepgaze_mr", "streaming (salience)", precision, batch) in kinds
        assert ("deepgaze_iie", "streaming (salience)", precision, "4") in kinds
        assert ("deepgaze_iii", "streaming (salience)", precision, "4") in kinds
    for row in rows:
        assert float(row["frames/s"]) > 0, row  # no row failed
        assert float(row["peak RSS MiB"]) > 0 and row["peak GPU MiB"] == "-"  # CPU: no GPU memory
        if row["model"] == "deepgaze_mr" and row["variant"].startswith("streaming"):
            assert float(row["vs reference"]) > 0  # compared in the same run
        error = float(row["max abs err"])  # against the fp32 streaming row, batch 4
        if row["precision"] == "fp32":
            assert error < 1e-4, row  # the reference computes the same maps; batch size changes nothing
        else:
            # bf16 deviates, a little (more for the untrained IIE/III, whose maps amplify rounding)
            assert 0 < error < (5e-2 if row["model"] == "deepgaze_mr" else 0.5), row
        if row["batch"] == "4":  # stage shares: each stage timed alone, they add up
            shares = [float(row[k]) for k in ("decode %", "transfer %", "model %", "write %")]
            assert all(s >= 0 for s in shares) and abs(sum(shares) - 100) < 0.5, row
    assert "# DeepGaze MR 64x48: highest" in tiny_run
