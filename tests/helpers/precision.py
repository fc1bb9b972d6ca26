"""How far reduced-precision maps may stray from fp32 (the CPU tests' and the GPU tests' bounds)."""

from __future__ import annotations

import numpy as np

# Reduced-precision backbone on the fixture, frames 15..23, against fp32,
# measured with torch 2.14 on an AVX512-BF16 CPU (benchmarks/bench_speed.py):
#   bf16: max 2.6e-3, mean 5.5e-4, lowest Pearson r of the densities 0.9999988
#   fp16: max 3.0e-4, mean 9.9e-5, lowest r 0.99999994
# The bounds leave room for other CPUs' and GPUs' kernels.
BF16_BOUNDS = {"max_abs": 1e-2, "mean_abs": 2e-3, "min_pearson": 0.9999}
FP16_BOUNDS = {"max_abs": 2e-3, "mean_abs": 5e-4, "min_pearson": 0.99999}


def errors(maps, reference):
    maps, reference = maps.astype(np.float64), reference.astype(np.float64)
    difference = np.abs(maps - reference)
    pearson = min(np.corrcoef(np.exp(a).ravel(), np.exp(b).ravel())[0, 1] for a, b in zip(maps, reference))
    return difference.max(), difference.mean(), pearson


def assert_within(maps, fp32, max_abs, mean_abs, min_pearson):
    assert maps.dtype == np.float32  # the readout and finalizer run in float32
    got_max, got_mean, got_pearson = errors(maps[15:], fp32[15:])
    assert 0 < got_max <= max_abs  # > 0: the backbone really ran in reduced precision
    assert got_mean <= mean_abs
    assert got_pearson >= min_pearson
    # still normalized log-densities
    np.testing.assert_allclose(np.logaddexp.reduce(maps.reshape(len(maps), -1), axis=1), 0, atol=1e-5)
