"""Screen pixels to video pixels: where the video was shown."""

from __future__ import annotations

import numpy as np
import pytest

from salience.errors import ConfigError
from salience.evaluation.screen import placement


def test_centered_at_native_size_is_a_shift():
    # the Lund 2013 setup: 720x576 centred on 1024x768
    place = placement("centered", (1024, 768), (720, 576))
    assert (place.x, place.y, place.width, place.height) == (152, 96, 720, 576)
    sx, sy = np.array([152, 871.9, 151.9, 500.25]), np.array([96, 671.9, 100, 300.75])
    x, y = place.to_video(sx, sy)
    np.testing.assert_array_equal(x, sx - 152)  # exactly a shift: no scaling, no rounding
    np.testing.assert_array_equal(y, sy - 96)
    assert x[2] < 0 and x[0] == 0 and y[0] == 0


def test_centered_with_an_odd_margin_rounds_the_corner_down():
    place = placement("centered", (1920, 1080), (641, 361))
    assert (place.x, place.y) == (639, 359)


@pytest.mark.parametrize("screen, video, rect", [
    ((1920, 1080), (640, 360), (0, 0, 1920, 1080)),   # same aspect: fills the screen
    ((1920, 1200), (1280, 720), (0, 60, 1920, 1080)),  # letterbox
    ((1280, 1024), (720, 576), (0, 0, 1280, 1024)),   # 5:4 on 5:4
    ((1920, 1080), (720, 576), (285, 0, 1350, 1080)),  # pillarbox
])
def test_fit_scales_and_centres(screen, video, rect):
    place = placement("fit", screen, video)
    assert (place.x, place.y, place.width, place.height) == pytest.approx(rect)
    x, y = place.to_video([rect[0], rect[0] + rect[2]], [rect[1], rect[1] + rect[3]])
    np.testing.assert_allclose(x, [0, video[0]])
    np.testing.assert_allclose(y, [0, video[1]])


def test_explicit_rectangle_and_the_files_own():
    place = placement([100, 50, 1440, 810], None, (1280, 720))
    x, y = place.to_video([100, 1540], [50, 860])
    np.testing.assert_allclose(x, [0, 1280])
    np.testing.assert_allclose(y, [0, 720])
    stated = (320, 240, 640, 360)
    assert placement("auto", None, (640, 360), stated).x == 320  # auto: the file's
    assert placement("auto", (1280, 840), (640, 360)).y == 240  # auto without one: centered
    assert placement("centered", (1280, 840), (640, 360), stated).x == 320  # agrees: fine


@pytest.mark.parametrize("rect, screen, message", [
    ("centered", None, r"needs the screen size: set screen: \[width, height\]"),
    ("middle", (10, 10), r"video_rect 'middle' must be one of auto, centered, fit"),
    ([0, 0, 0, 10], None, r"video_rect \[0, 0, 0, 10\] must be \[x, y, width, height\]"),
    ([0, 0, 10], None, r"must be \[x, y, width, height\]"),
])
def test_bad_settings_are_refused(rect, screen, message):
    with pytest.raises(ConfigError, match=message):
        placement(rect, screen, (4, 4))


def test_a_rectangle_that_contradicts_the_file_is_refused():
    with pytest.raises(ConfigError, match=r"video_rect: fit places the video \(640x360\) at \(0, 60\) .* but the "
                                          r"file says the video \(640x360\) at \(320, 240\)"):
        placement("fit", (1280, 840), (640, 360), (320, 240, 640, 360))
