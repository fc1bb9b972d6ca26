"""Gaze on frames: tidy CSVs and gaze_points.csv, time to frame, dropped rows, the empirical density."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from scipy.ndimage import gaussian_filter
from helpers.stores import make_store, random_maps

from salience.evaluation.density import EmpiricalDensity, sigma_pixels
from salience.evaluation.gaze import (GazeSettings, Points, Timeline, VideoFrames, load_gaze, load_gaze_by_participant,
                                      read_points, timeline_of_store, write_points_csv)
from salience.evaluation.trackers import TrackerFileError


def write(tmp_path, text, name="gaze.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, where", [
    ("x,time\n1,0.1\n", r"line 1: no column 'y'"),
    ("x,y\n1,2\n", r"line 1: no column 'time' or 'frame'"),
    ("x,y,time\n1,2,0.1\n3,abc,0.2\n", r"line 3, column 'y': 'abc' is not a number"),
    ("x,y,frame\n1,2,0\n1,2,1.5\n", r"line 3, column 'frame': 1.5 is not a frame index"),
    ("x,y,time,frame\n1,2,0.1,0\n", r"line 1, columns 'time' and 'frame': both a time and a frame column"),
])
def test_bad_tidy_csv_names_file_line_and_column(tmp_path, text, where):
    path = write(tmp_path, text)
    with pytest.raises(TrackerFileError, match=str(path).replace(".", r"\.") + ", " + where):
        load_gaze(path, Timeline(np.arange(4) / 10, 0.4), 8, 6)


def test_tidy_csv_with_spreadsheet_quirks_and_lost_samples(tmp_path):
    # a BOM, spaces around names, an ignored duration column, an empty cell: a lost sample, not an error
    path = write(tmp_path, "\ufeffx,y,time,participant,duration\n1.5,2,0.25,p1,\n3,4,0.35,p2,0.2\n,5,0.1,p1,\n")
    parts = load_gaze_by_participant(path, Timeline(np.arange(4) / 10, 0.4), 8, 6)
    assert sorted(parts) == ["p1", "p2"]
    assert parts["p1"].frames.tolist() == [2] and parts["p1"].x.tolist() == [1]
    assert parts["p2"].frames.tolist() == [3] and parts["p2"].y.tolist() == [4]


def test_time_to_frame_on_a_variable_frame_rate_timeline():
    # frames shown at 0, 0.1, 0.15, 0.4 (VFR); the video ends at 0.5
    timeline = Timeline(np.array([0.0, 0.1, 0.15, 0.4]), 0.5)
    t = np.array([-0.01, 0.0, 0.0999, 0.1, 0.149, 0.15, 0.39, 0.4, 0.4999, 0.5, 7.0])
    np.testing.assert_array_equal(timeline.frame_at(t), [-1, 0, 0, 1, 1, 2, 2, 3, 3, -1, -1])


def test_store_timeline_from_time_array_or_fps(tmp_path):
    maps = random_maps(np.random.default_rng(0), 4, 6, 8)
    vfr = timeline_of_store(zarr.open_group(str(make_store(tmp_path / "a.zarr", maps, times=[0, .1, .15, .4]))))
    np.testing.assert_array_equal(vfr.times, [0, .1, .15, .4])
    assert vfr.end == pytest.approx(0.65)  # one last interval after the last frame
    cfr = timeline_of_store(zarr.open_group(str(make_store(tmp_path / "b.zarr", maps, fps=25.0))))
    np.testing.assert_allclose(cfr.times, [0, .04, .08, .12])
    assert cfr.end == pytest.approx(0.16)


def test_rows_outside_frame_or_video_are_dropped(tmp_path):
    path = write(tmp_path, "x,y,time\n"
                 "0,0,0.0\n"        # frame 0, pixel (0, 0)
                 "7.9,5.99,0.12\n"  # frame 1 (0.1 <= t < 0.15), pixel (7, 5)
                 "8,1,0.2\n"        # x == width: outside the frame
                 "-0.01,1,0.2\n"    # outside
                 "nan,1,0.2\n"      # lost sample
                 "1,1,-0.1\n"       # before the video
                 "1,1,0.65\n"       # at the end: outside the video
                 "2,3,0.41\n")      # frame 3
    timeline = Timeline(np.array([0.0, 0.1, 0.15, 0.4]), 0.65)
    gaze = load_gaze(path, timeline, width=8, height=6)
    np.testing.assert_array_equal(gaze.frames, [0, 1, 3])
    assert [tuple(map(list, gaze.points(k))) for k in range(3)] == [([0], [0]), ([7], [5]), ([2], [3])]
    (points,) = read_points(path, GazeSettings(points="samples"), VideoFrames(timeline.times, timeline.end, 8, 6))
    assert points.dropped == {"lost": 1, "outside the video": 2, "outside the frame": 2}


def test_frame_column_maps_directly(tmp_path):
    path = write(tmp_path, "frame,x,y\n2,1,1\n0,3,3\n2,4,4\n9,1,1\n")
    gaze = load_gaze(path, Timeline(np.arange(4) / 10, 0.4), width=8, height=6)
    np.testing.assert_array_equal(gaze.frames, [0, 2])
    assert gaze.points(1)[0].tolist() == [1, 4]


def test_gaze_points_csv_is_read_as_written(tmp_path):
    points = [Points("a", np.array([1, 1, 3]), np.array([1.5, 7.9, 0.0]), np.array([2.0, 5.99, 0.0]),
                     np.array([5, 6, 7]), {}, "samples"),
              Points("b", np.array([1]), np.array([3.0]), np.array([3.0]), np.array([9]), {}, "samples")]
    timeline = Timeline(np.arange(4) / 10, 0.4)
    write_points_csv(points, VideoFrames(timeline.times, timeline.end, 8, 6), tmp_path / "gaze_points.csv")
    parts = load_gaze_by_participant(tmp_path / "gaze_points.csv", timeline, 8, 6)
    assert parts["a"].frames.tolist() == [1, 3] and parts["a"].x.tolist() == [1, 7, 0]
    both = load_gaze(tmp_path / "gaze_points.csv", timeline, 8, 6)
    assert both.frames.tolist() == [1, 3] and sorted(both.points(0)[0].tolist()) == [1, 3, 7]


@pytest.mark.parametrize("sigma", [0.4, 1.7, 3.0])
def test_empirical_density_is_the_definition(sigma):
    rng = np.random.default_rng(1)
    height, width = 23, 31
    x = rng.integers(0, width, 9)
    y = rng.integers(0, height, 9)
    x[:3], y[:3] = [0, width - 1, 5], [0, height - 1, 5]  # at the edges, and a repeated pixel
    x[3], y[3] = 5, 5
    impulses = np.zeros((height, width))
    np.add.at(impulses, (y, x), 1.0)
    expected = gaussian_filter(impulses, sigma, mode="constant", truncate=4.0)
    expected /= expected.sum()
    density = EmpiricalDensity(height, width, sigma)
    np.testing.assert_allclose(density.image(x, y), expected, atol=1e-15, rtol=1e-12)
    np.testing.assert_allclose(density.image(x[:2], y[:2]).sum(), 1.0)  # buffers are reset between calls


def test_fwhm_in_degrees_to_sigma_in_pixels():
    assert sigma_pixels(35.0, 1.0) == pytest.approx(35.0 / 2.3548200450309493)
    with pytest.raises(Exception, match="pixels_per_degree"):
        sigma_pixels(0.0)
