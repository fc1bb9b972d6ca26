"""Fixation detection (I-VT, I-DT), viewing geometry, agreement (Cohen's kappa)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from salience.errors import ConfigError
from salience.evaluation.fixations import (FixationFilter, Geometry, cohen_kappa, detect, geometry, labels,
                                           means, speeds)

PPD = Geometry(pixels_per_degree=10.0)  # 10 px per degree: easy numbers


def scanpath(rate=500.0):
    """300 ms still at (100, 100), a 40 ms saccade of 20 degrees, 300 ms still at (300, 100)."""
    t = np.arange(0, 0.640, 1 / rate)
    x = np.where(t < 0.300, 100.0, np.where(t < 0.340, 100 + (t - 0.300) / 0.040 * 200, 300.0))
    y = np.full_like(t, 100.0)
    return t, x, y


@pytest.mark.parametrize("method", ["ivt", "idt"])
def test_two_fixations_around_a_saccade(method):
    t, x, y = scanpath()
    first, last = detect(t, x, y, PPD, FixationFilter(method=method, merge_angle=0))
    assert len(first) == 2
    # the fixations lie in the still parts; the saccade's samples are in neither
    assert t[last[0]] <= 0.302 and t[first[1]] >= 0.336  # at most a sample at each end of the saccade
    assert t[first[0]] < 0.02 and t[last[1]] > 0.62
    fx, fy = means(x, y, first, last)
    np.testing.assert_allclose(fy, [100, 100])
    assert abs(fx[0] - 100) < 1 and abs(fx[1] - 300) < 1


def test_ivt_speed_is_measured_across_the_window():
    t, x, y = scanpath()
    speed = speeds(t, x / 10, y / 10, window_ms=20)
    assert speed[10] == 0
    np.testing.assert_allclose(speed[np.searchsorted(t, 0.320)], 500.0)  # 20 degrees in 40 ms


def test_lost_samples_end_a_fixation_and_short_ones_are_dropped():
    t, x, y = scanpath()
    x = x.copy()
    x[50:52] = np.nan  # a blink at 100 ms
    first, last = detect(t, x, y, PPD, FixationFilter(merge_angle=0, min_duration_ms=60))
    assert len(first) == 3
    assert not any(f <= 50 <= l for f, l in zip(first, last))
    # a minimum above the first piece's length drops it
    first, _ = detect(t, x, y, PPD, FixationFilter(merge_angle=0, min_duration_ms=150))
    assert t[first[0]] > 0.1


def test_ivt_merges_fixations_close_in_time_and_place():
    t = np.arange(0, 0.4, 0.002)
    x = np.full_like(t, 100.0)
    x[100:110] = 160  # a 20 ms excursion of 6 degrees and back (noise, or a glance)
    y = np.full_like(t, 100.0)
    assert len(detect(t, x, y, PPD, FixationFilter(merge_angle=0))[0]) == 2
    first, last = detect(t, x, y, PPD, FixationFilter())  # merged: 0.5 degrees, 75 ms
    assert (first.tolist(), last.tolist()) == ([0], [len(t) - 1])


def test_idt_dispersion_threshold_in_degrees():
    t = np.arange(0, 0.3, 0.002)
    x = 100 + 8 * np.sin(np.arange(len(t)))  # +-0.8 degrees: dispersion up to 1.6
    y = np.full_like(t, 100.0)
    assert len(detect(t, x, y, PPD, FixationFilter(method="idt", dispersion_threshold=1.0))[0]) == 0
    first, last = detect(t, x, y, PPD, FixationFilter(method="idt", dispersion_threshold=2.0))
    assert (first.tolist(), last.tolist()) == ([0], [len(t) - 1])


def test_geometry_from_the_physical_setup():
    # Lund 2013: 1024x768 px on 38x30 cm at 67 cm
    lund = geometry(screen=(1024, 768), screen_cm=(38, 30), distance_cm=67)
    assert lund.center_pixels_per_degree == pytest.approx(31.51, abs=0.01)
    x, y = lund.degrees([512, 1024], [384, 384])
    np.testing.assert_allclose(x, [0, math.degrees(math.atan(19 / 67))])
    assert geometry(pixels_per_degree=40).degrees([80], [20])[0][0] == 2.0


@pytest.mark.parametrize("kwargs, message", [
    ({}, "needs the viewing geometry: screen_cm and distance_cm"),
    ({"screen_cm": (38, 30)}, "needs screen \\(pixels\\), screen_cm"),
    ({"screen": (10, 10), "screen_cm": (38, 30), "distance_cm": -1}, "must be positive numbers"),
    ({"pixels_per_degree": 0}, "pixels_per_degree 0 must be a positive number"),
])
def test_geometry_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        geometry(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "ihmm"}, "'ihmm' is not one of ivt, idt"),
    ({"velocity_threshold": 0}, "velocity_threshold': 0 must be a positive number"),
    ({"merge_gap_ms": -1}, "merge_gap_ms': -1 must be a number >= 0"),
])
def test_filter_settings_are_checked(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        FixationFilter(**kwargs)


def test_labels_and_kappa():
    np.testing.assert_array_equal(labels(6, [0, 3], [1, 3]), [1, 1, 0, 1, 0, 0])
    a = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 0], bool)
    assert cohen_kappa(a, a) == 1.0
    assert cohen_kappa(a, ~a) == -1.0
    b = a.copy()
    b[0] = False  # po = 0.9, pe = 0.5*0.4 + 0.5*0.6 = 0.5
    assert cohen_kappa(a, b) == pytest.approx(0.8)


def test_ivt_runs_equal_pymovements_given_the_same_speeds():
    """Cross-check of the run finding and the duration rule against pymovements' I-VT, where installed."""
    ivt = pytest.importorskip("pymovements.events.detection").ivt
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.integers(1, 4, 3000)).astype(np.int64)  # ms, irregular
    speed = np.abs(rng.normal(20, 15, len(t)))
    speed[rng.integers(0, len(t), 30)] = np.nan
    theirs = ivt(np.stack([speed, np.zeros_like(speed)], axis=1), t, minimum_duration=40, velocity_threshold=25.0)
    from salience.evaluation import fixations
    slow = (np.nan_to_num(speed, nan=np.inf) < 25.0)
    first, last = fixations._runs(slow)
    keep = t[last] - t[first] >= 40
    np.testing.assert_array_equal(theirs.frame["onset"].to_numpy(), t[first[keep]])
    np.testing.assert_array_equal(theirs.frame["offset"].to_numpy(), t[last[keep]])
