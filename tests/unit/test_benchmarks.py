"""The benchmark scripts run, and their tables say what they must (tiny sizes: seconds, not figures)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.benchmarks import run, table_rows
from helpers.snakemake import REPO

pytestmark = pytest.mark.slow


def test_bench_speed_table_compares_every_row_with_fp32():
    out = run("bench_speed.py", "--sizes", "48x32", "--frames", "18", "--only", "1,4,5",
              "--skip-fixture")
    rows = {row["variant"]: row for row in table_rows(out, "size")}
    reference = rows["reference strategy (whole video, 1 frame/step), fp32"]
    default = rows["+ decode thread (prefetch 2) = default"]
    bf16 = rows["default, bf16 backbone"]
    assert all(float(row["frames/s"]) > 0 for row in rows.values())
    # The reference strategy gives the streaming maps from frame 15 on; bf16 deviates, a little.
    assert float(reference["max abs err"]) < 1e-5 and float(default["max abs err"]) == 0
    assert 0 < float(bf16["max abs err"]) < 5e-2 and float(bf16["min Pearson r"]) > 0.999


def test_bench_speed_skips_what_would_not_fit_in_memory(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import bench_speed
    import harness
    import torch

    monkeypatch.setattr(harness, "available_host_bytes", lambda: 24 * 2**30)  # CI's machine
    rows = bench_speed.variants(on_cuda=False, batch_size=4, with_compile=False, cpu_fp16=False)
    reference, default = rows[0], rows[3]
    cpu = torch.device("cpu")
    # 1080p: the reference's first 16-frame batch is its out-of-memory failure; 4 frames fit.
    assert "skipped: needs about" in bench_speed.memory_shortfall(reference, 1920, 1080, 20, cpu)
    assert bench_speed.memory_shortfall(default, 1920, 1080, 20, cpu) is None
    assert bench_speed.memory_shortfall(reference, 1280, 720, 20, cpu) is None


def test_bench_store_table_states_each_storage_error_and_the_assembly_files(tmp_path):
    maps = np.stack([np.full((16, 32), -np.log(16 * 32)) + 0.3 * np.sin(np.arange(32) / 5 + k)[None]
                     for k in range(4)]).astype(np.float32)
    maps -= np.log(np.exp(maps.astype(np.float64)).sum(axis=(1, 2)))[:, None, None].astype(np.float32)
    np.save(tmp_path / "maps.npy", maps)
    out = run("bench_store.py", "--maps", str(tmp_path / "maps.npy"), "--size", "32x16", "--shard-frames", "4",
              "--assembly-frames", "16", "--chunk-frames", "8")
    rows = {row["store"]: row for row in table_rows(out, "store")}
    assert float(rows["shards of 4, float32"]["max abs error vs float32"]) == 0
    assert 0 < float(rows["shards of 4, quantized"]["max abs error vs float32"]) <= 2.0**-9
    assert 0 < float(rows["shards of 4, float16"]["max abs error vs float32"]) <= 2.0**-8
    before = rows["assembly before: re-read + re-encode, 1 chunk file per frame, quantized"]
    after = rows["assembly after: shard files linked, quantized"]
    assert int(before["files"]) == 16 + 2  # a file per frame
    assert int(after["files"]) == 4 + 6  # a file per shard, metadata, frame and time


def test_bench_render_table_has_every_row():
    out = run("bench_render.py", "--sizes", "64x48,96x64", "--frames", "8", "--threads", "1,2",
              "--presets", "ultrafast,medium", "--jobs", "2", "--total", "80")
    rows = table_rows(out, "row")
    labels = [row["row"] for row in rows]
    assert labels == ["threads 1 (medium)", "threads 2 (medium)"] * 2 + [
        "preset ultrafast (2 threads)", "preset medium (2 threads)", "one job", "2 segment jobs at once + join"]
    assert all(float(row["frames/s"]) > 0 for row in rows)
    assert all(float(row["KiB/frame"]) > 0 for row in rows[:6])
    assert "80 frames at 96x64, scaled from 8" in out
