"""Gaze on the video's timeline: sync, screen to video, fixations on frames, refusals of silent-wrong input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from salience.errors import ConfigError
from salience.evaluation.gaze import GazeSettings, VideoFrames, check_recording, read_points
from salience.evaluation.trackers import TrackerFileError, read_recording

VIDEO = VideoFrames(np.arange(10) / 25, 10 / 25, 64, 48)  # 10 frames at 25 fps, 64x48


def write(tmp_path, text, name="g.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def one(path, **settings):
    (points,) = read_points(path, GazeSettings(**settings), VIDEO)
    return points


@pytest.mark.parametrize("unit, times, sync", [
    ("s", ["3376.198", "3376.238", "3376.278", "3376.2379"], 3376.198),
    ("ms", ["3376198", "3376238", "3376278", "3376237.9"], 3376.198),
    ("us", ["3376198000", "3376238000", "3376278000", "3376237900"], 3376.198),
])
def test_sync_is_exact_at_frame_boundaries(tmp_path, unit, times, sync):
    # samples at exactly 0, 40 and 80 ms after the first frame (25 fps), and 0.1 ms before 40 ms:
    # 3376.238 - 3376.198 is 0.0399999999999 in floating point; it is still frame 1
    path = write(tmp_path, "time,x,y\n" + "".join(f"{t},10,10\n" for t in times))
    points = one(path, time_unit=unit, sync=sync, points="samples")
    assert points.frame.tolist() == [0, 1, 2, 0]


def test_sync_on_a_message_and_a_shift_of_one_frame(tmp_path):
    text = "time,x,y,event\n1000,,,VIDEO_START\n" + "".join(f"{1000 + 4 * i},{i},1,\n" for i in range(100))
    path = write(tmp_path, text)
    by_message = one(path, time_unit="ms", sync="VIDEO_START", points="samples")
    by_number = one(path, time_unit="ms", sync=1.0, points="samples")
    np.testing.assert_array_equal(by_message.frame, by_number.frame)
    assert by_message.frame[:11].tolist() == [0] * 10 + [1]  # 4 ms samples, 40 ms frames
    later = one(path, time_unit="ms", sync=1.04, points="samples")  # the video started one frame later
    assert later.dropped["outside the video"] == 10
    np.testing.assert_array_equal(later.frame, by_message.frame[10:] - 1)


def test_screen_pixels_to_video_pixels(tmp_path):
    # a 64x48 video centred on a 100x80 screen: its corner at (18, 16)
    path = write(tmp_path, "time,x,y\n0,18,16\n0,81.9,63.9\n0,17.9,30\n0,50,64\n")
    points = one(path, coordinates="screen", screen=[100, 80], video_rect="centered", points="samples")
    np.testing.assert_allclose(points.x, [0, 63.9])
    np.testing.assert_allclose(points.y, [0, 47.9])
    assert points.dropped["outside the frame"] == 2
    fit = one(path, coordinates="screen", screen=[128, 96], video_rect="fit", points="samples")
    np.testing.assert_allclose(fit.x, [9, 40.95, 8.95, 25])  # scaled by 2


def test_a_fixation_is_a_point_in_every_frame_it_overlaps(tmp_path):
    text = ("** test\nSAMPLES\tGAZE\tLEFT\tRATE\t500.00\nMSG\t1000 VIDEO_START\n"
            + "".join(f"{t}\t  10.0\t  20.0\t  100.0\t...\n" for t in range(1000, 1402, 2))
            + "EFIX L   1000\t1030\t32\t  10.0\t  20.0\t  100\n"   # frame 0 only
            + "EFIX L   1030\t1040\t12\t  11.0\t  21.0\t  100\n"   # ends exactly at frame 1's time: 0 and 1
            + "EFIX L   1079\t1161\t84\t  12.0\t  22.0\t  100\n"   # frames 1 to 4
            + "EFIX L    990\t1010\t22\t  13.0\t  23.0\t  100\n"   # begins before the video: frame 0
            + "EFIX L   1390\t1500\t112\t  14.0\t  24.0\t  100\n"  # runs past the end (400 ms): frame 9
            + "EFIX L   1400\t1500\t102\t  15.0\t  25.0\t  100\n")  # after the end: dropped
    path = write(tmp_path, text, "s.asc")
    points = one(path, sync="VIDEO_START")
    assert points.kind == "tracker fixations"
    assert list(zip(points.frame.tolist(), points.x.tolist())) == [
        (0, 10.0), (0, 11.0), (1, 11.0), (1, 12.0), (2, 12.0), (3, 12.0), (4, 12.0), (0, 13.0), (9, 14.0)]
    assert points.dropped["outside the video"] == 1


def test_fixations_are_detected_where_the_file_has_none(tmp_path):
    rows = "".join(f"{t},{10 if t < 300 else 40},{20},\n" for t in range(0, 600, 2))
    path = write(tmp_path, "time,x,y,event\n" + rows)
    points = one(path, time_unit="ms", pixels_per_degree=10)
    assert points.kind == "detected fixations"
    assert sorted(set(points.x.tolist())) == [10, 40]
    with pytest.raises(ConfigError, match="need the viewing geometry"):
        one(path, time_unit="ms")
    with pytest.raises(TrackerFileError, match="fixations: tracker, but the file has no fixation events"):
        one(path, time_unit="ms", fixations="tracker")


def test_a_participant_column_that_contradicts_the_file_name_is_refused(tmp_path):
    path = write(tmp_path, "participant,time,x,y\nP2,0,1,1\n", "P1.csv")
    with pytest.raises(TrackerFileError, match=r"P1\.csv: its participant column names P2, but the file name "
                                                r"says 'P1'"):
        read_points(path, GazeSettings(points="samples"), VIDEO, participant="P1")


def test_a_screen_size_that_contradicts_the_file_is_refused(tmp_path):
    path = write(tmp_path, "MSG\t1 DISPLAY_COORDS 0 0 1279 1023\n2\t 1.0\t 1.0\t 1.0\t...\n", "s.asc")
    with pytest.raises(ConfigError, match="the file says the screen was 1280x1024 pixels, config gaze: screen "
                                          "says 1920x1080"):
        read_points(path, GazeSettings(coordinates="screen", screen=(1920, 1080), points="samples"), VIDEO)


# --------------------------------------------------------------------------- refusals


def check(path, **settings):
    check_recording(read_recording(path, time_unit=settings.get("time_unit", "s")), GazeSettings(**settings), VIDEO)


def samples(times, xs=None, ys=None, header="time,x,y"):
    xs = xs if xs is not None else [32.0] * len(times)
    ys = ys if ys is not None else [24.0] * len(times)
    return header + "\n" + "".join(f"{t},{x},{y}\n" for t, x, y in zip(times, xs, ys))


def test_times_in_milliseconds_read_as_seconds_are_refused(tmp_path):
    path = write(tmp_path, samples(np.arange(0, 400, 4)))
    with pytest.raises(TrackerFileError, match=r"g\.csv, column 'time': times look like milliseconds: set "
                                                r"time_unit: ms \(100 rows from 0 s to 396 s"):
        check(path)
    check(path, time_unit="ms")  # right: passes
    path = write(tmp_path, samples(np.arange(0, 400_000, 4000)))
    with pytest.raises(TrackerFileError, match="times look like microseconds: set time_unit: us"):
        check(path)


def test_times_on_the_trackers_clock_without_sync_are_refused(tmp_path):
    path = write(tmp_path, samples(3376.2 + np.arange(100) * 0.004))
    with pytest.raises(TrackerFileError, match=r"g\.csv: the times start at 3376\.2 s, after the video's end "
                                                r"\(0\.4 s\): they are on the tracker's clock; set gaze: sync"):
        check(path)
    check(path, sync=3376.2)


def test_a_sync_that_misses_most_of_the_video_is_refused(tmp_path):
    path = write(tmp_path, samples(np.arange(100) * 0.004))
    with pytest.raises(TrackerFileError, match=r"g\.csv: 100 rows from -0\.2 s to 0\.196 s on the video's "
                                                r"timeline reach across 49% of the video \(0 to 0\.4 s\); check gaze: sync"):
        check(path, sync=0.2)
    check(path, sync=0.15)  # a late start that still reaches across most of the video passes


def test_normalised_coordinates_are_refused(tmp_path):
    path = write(tmp_path, samples(np.arange(100) * 0.004, np.linspace(0, 1, 100), np.linspace(0.2, 0.8, 100)))
    with pytest.raises(TrackerFileError, match=r"g\.csv, line 2, column 'x': coordinates are all within 0-1: "
                                                r"normalised\?"):
        check(path)


def test_screen_pixels_read_as_video_pixels_are_refused(tmp_path):
    xs = np.linspace(18, 81, 100)  # a 100x80 screen, the video at (18, 16)
    path = write(tmp_path, samples(np.arange(100) * 0.004, xs, np.full(100, 50.0)))
    with pytest.raises(TrackerFileError, match=r"g\.csv, line \d+, column 'x': \d+% of the tracked samples on the "
                                                r"video's frames fall outside the video \(x up to 81.*gaze is in "
                                                r"screen pixels outside the video: set coordinates: screen"):
        check(path)
    check(path, coordinates="screen", screen=(100, 80), video_rect="centered")
    with pytest.raises(TrackerFileError, match=r"fall outside the video \(64x48\) at \(0, 0\) of the screen, "
                                                r"64x48 screen pixels: check gaze: screen and video_rect"):
        check(path, coordinates="screen", screen=(100, 80), video_rect=[0, 0, 64, 48])


def test_a_few_glances_away_and_lost_samples_pass(tmp_path):
    xs = np.full(100, 32.0)
    xs[:20] = 200  # 20 % off the video
    text = samples(np.arange(100) * 0.004, xs).replace("\n0.008,200.0,24.0\n", "\n0.008,,\n")
    check(write(tmp_path, text))


def test_settings_are_checked():
    with pytest.raises(ConfigError, match=r"config 'gaze: points': 'all' is not one of fixations, samples"):
        GazeSettings(points="all")
    assert dataclasses.replace(GazeSettings(), coordinates="screen").coordinates == "screen"


def test_points_csv_round_trip(tmp_path):
    from salience.evaluation.gaze import Points, read_points_csv, write_points_csv

    points = [Points("P 1", np.array([3, 0]), np.array([1.5, 63.25]), np.array([2.0, 0.0]), np.array([7, 9]), {},
                     "samples")]
    assert write_points_csv(points, VIDEO, tmp_path / "gaze_points.csv") == 2
    lines = (tmp_path / "gaze_points.csv").read_text().splitlines()
    assert lines == ["participant,frame,time,x,y,kind,line", "P 1,0,0.0,63.25,0.0,samples,9",
                     "P 1,3,0.12,1.5,2.0,samples,7"]
    back = read_points_csv(tmp_path / "gaze_points.csv")
    assert back["participant"].tolist() == ["P 1", "P 1"] and back["frame"].tolist() == [0, 3]
