"""Eye-tracker exports in: delimited text, EyeLink ASC, Tobii Pro Lab; the sync on a message."""

from __future__ import annotations

import re

import numpy as np
import pytest

from salience.evaluation.trackers import (TrackerFileError, by_participant, detect_format, read_recording,
                                          sync_time)


def write(tmp_path, name, text, *, bom=False, crlf=False):
    path = tmp_path / name
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- delimited text


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_separator_is_detected(tmp_path, separator):
    text = "time,x,y\n0.5,10.25,20\n0.75,11,21\n".replace(",", separator)
    rec = read_recording(write(tmp_path, "g.csv", text))
    np.testing.assert_array_equal(rec.time, [0.5, 0.75])
    np.testing.assert_array_equal(rec.x, [10.25, 11])
    assert rec.format == "csv" and rec.unit == "s"


def test_decimal_comma_bom_crlf_and_lost_sample_codes(tmp_path):
    text = ("time;x;y\n"
            "1,5;10,25;20,5\n"
            "1,6;;\n"          # empty cells
            "1,7;.;.\n"        # EyeLink's dot
            "1,8;nan;NaN\n"
            "1,9;NA;N/A\n"
            "2,0;-32768;-32768\n"
            "2,1;12;13\n"
            "\n")              # a trailing blank line
    rec = read_recording(write(tmp_path, "g.csv", text, bom=True, crlf=True))
    np.testing.assert_allclose(rec.time, [1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.1])
    assert np.isnan(rec.x[1:6]).all() and np.isnan(rec.y[1:6]).all()
    assert rec.x[0] == 10.25 and rec.y[6] == 13
    np.testing.assert_array_equal(rec.line, [2, 3, 4, 5, 6, 7, 8])


def test_tracker_missing_codes_are_configurable(tmp_path):
    path = write(tmp_path, "g.csv", "time,x,y\n0,0,0\n1,5,6\n")
    rec = read_recording(path, missing=["0"])
    assert np.isnan(rec.x[0]) and rec.x[1] == 5
    assert rec.time[0] == 0  # the time column is not a gaze value


def test_columns_are_mapped_by_role_and_units_kept(tmp_path):
    path = write(tmp_path, "g.tsv", "TimeStamp\tGazeX\tGazeY\tSubject\n1000\t1\t2\tp1\n1004\t3\t4\tp2\n")
    rec = read_recording(path, columns={"time": "TimeStamp", "x": "GazeX", "y": "GazeY",
                                        "participant": "Subject"}, time_unit="ms")
    assert rec.unit == "ms"
    np.testing.assert_allclose(rec.seconds(rec.time, origin=1000), [0, 0.004])
    assert list(by_participant(rec, "file")) == ["p1", "p2"]


@pytest.mark.parametrize("text, message", [
    ("time,x\n1,2\n", r"g\.csv, line 1: no column 'y' \(its header: time,x\); name the columns"),
    ("x,y\n1,2\n", r"g\.csv, line 1: no column 'time' or 'frame'"),
    ("time,x,y\n1,2,3\n2,abc,3\n", r"g\.csv, line 3, column 'x': 'abc' is not a number$"),
    ("time,x,y\n1,2,3\n,2,3\n", r"g\.csv, line 3, column 'time': empty; a number is needed"),
    ("time,x,y,frame\n1,2,3,0\n", r"g\.csv, line 1, columns 'time' and 'frame': both a time and a frame column"),
    ("frame,x,y\n0,1,1\n1.5,1,1\n", r"g\.csv, line 3, column 'frame': 1\.5 is not a frame index"),
    ("time,x,y\n1,\"2,5\",3\n", r"column 'x': '2,5' is not a number \(a decimal comma: set decimal"),
])
def test_bad_delimited_files_name_file_line_and_column(tmp_path, text, message):
    with pytest.raises(TrackerFileError, match=message):
        read_recording(write(tmp_path, "g.csv", text))


def test_event_rows_are_messages_not_lost_samples(tmp_path):
    text = "participant;time;x;y;event\nA;10,0;;;VIDEO_START\nA;10,0;1;2;\nB;20,0;;;VIDEO_START\nB;20,5;3;4;\n"
    rec = read_recording(write(tmp_path, "g.csv", text))
    assert len(rec) == 2
    parts = by_participant(rec, "unused")
    assert sync_time(parts["A"], "VIDEO_START") == 10.0
    assert sync_time(parts["B"], "VIDEO_START") == 20.0


def test_a_participant_column_with_a_blank_cell_is_refused(tmp_path):
    rec = read_recording(write(tmp_path, "g.csv", "participant,time,x,y\nA,1,1,1\n,2,1,1\n"))
    with pytest.raises(TrackerFileError, match=r"g\.csv, line 3, column 'participant': empty"):
        by_participant(rec, "file")


# --------------------------------------------------------------------------- Tobii Pro Lab

TOBII_HEADER = ("Recording timestamp [μs]\tSensor\tParticipant name\tRecording resolution height\t"
                "Recording resolution width\tGaze point X [DACS px]\tGaze point Y [DACS px]\t"
                "Presented Media width\tPresented Media height\tPresented Media position X (DACSpx)\t"
                "Presented Media position Y (DACSpx)\tEye movement type\tEye movement type index\t"
                "Fixation point X [DACS px]\tFixation point Y [DACS px]\tEvent\tEvent value")


def tobii_row(t, sensor="Eye Tracker", x="", y="", kind="", index="", fx="", fy="", event="", value="",
              media=("640", "360", "320", "240")):
    return "\t".join([str(t), sensor, "P01", "1080", "1920", x, y, *media, kind, index, fx, fy, event, value])


def tobii_text(decimal="."):
    rows = [TOBII_HEADER,
            tobii_row(0, sensor="", event="RecordingStart", media=("", "", "", "")),
            tobii_row(1_000_000, sensor="", event="VideoStimulusStart", value="clip.mp4"),
            tobii_row(1_000_000, x="330.5", y="250.25", kind="Fixation", index="1", fx="331", fy="250"),
            tobii_row(1_008_333, x="331.5", y="249.75", kind="Fixation", index="1", fx="331", fy="250"),
            tobii_row(1_016_667, kind="EyesNotFound", index="1"),
            tobii_row(1_025_000, x="500", y="400", kind="Saccade", index="1"),
            tobii_row(1_033_333, x="700", y="500", kind="Fixation", index="2", fx="701", fy="502"),
            tobii_row(1_041_667, sensor="Mouse", x="5", y="5")]
    text = "\n".join(rows) + "\n"
    return re.sub(r"(\d)\.(\d)", rf"\1{decimal}\2", text)  # a locale's decimal sign, names untouched


@pytest.mark.parametrize("decimal", [".", ","])
def test_tobii_pro_lab_export(tmp_path, decimal):
    path = write(tmp_path, "rec.tsv", tobii_text(decimal), bom=True, crlf=True)
    assert detect_format(path) == "tobii"
    rec = read_recording(path)
    assert rec.format == "tobii" and rec.unit == "us"
    np.testing.assert_array_equal(rec.time, [1_000_000, 1_008_333, 1_016_667, 1_025_000, 1_033_333])  # no mouse
    np.testing.assert_array_equal(rec.x[[0, 1, 3]], [330.5, 331.5, 500])
    assert np.isnan(rec.x[2])  # empty cells: lost
    assert rec.media_rect == (320, 240, 640, 360) and rec.screen == (1920, 1080)
    assert rec.coordinates == "screen"
    fix = rec.fixations
    np.testing.assert_array_equal(fix.start, [1_000_000, 1_033_333])
    np.testing.assert_array_equal(fix.end, [1_008_333, 1_033_333])
    np.testing.assert_array_equal(fix.x, [331, 701])
    assert sync_time(rec, "VideoStimulusStart") == 1_000_000
    assert sync_time(rec, "VideoStimulusStart clip.mp4") == 1_000_000
    assert rec.where(1, "x") == f"{path}, line 5, column 'Gaze point X [DACS px]'"


def test_tobii_timestamps_in_ms_and_without_unit(tmp_path):
    for header, unit in (("Recording timestamp [ms]", "ms"), ("Recording timestamp", "ms")):
        path = write(tmp_path, "r.tsv", f"{header}\tGaze point X\tGaze point Y\n10\t1\t2\n")
        assert read_recording(path).unit == unit


def test_tobii_media_that_moves_is_refused(tmp_path):
    text = tobii_text().splitlines()
    text[-2] = text[-2].replace("\t320\t240\t", "\t0\t240\t")
    path = write(tmp_path, "rec.tsv", "\n".join(text) + "\n")
    with pytest.raises(TrackerFileError, match=r"rec\.tsv, line 8, column 'Presented Media position X \(DACSpx\)'"
                                               r": 0 differs from 320 above"):
        read_recording(path)


# --------------------------------------------------------------------------- EyeLink ASC

ASC_MONO = """\
** CONVERTED FROM TEST.EDF
MSG\t900 DISPLAY_COORDS 0 0 1279 1023
START\t1000 \tLEFT\tSAMPLES\tEVENTS
SAMPLES\tGAZE\tLEFT\tRATE\t 500.00\tTRACKING\tCR\tFILTER\t2
MSG\t1012 4 VIDEO_START clip
1000\t  100.5\t  200.0\t 1000.0\t...
SFIX L   1002
1002\t  101.0\t  201.0\t 1000.0\t...
1004\t   .\t   .\t    0.0\t...
SBLINK L 1004
EBLINK L 1004\t1004\t2
1006\t  102.0\t  202.0\t 1000.0\t...
EFIX L   1002\t1006\t6\t  101.5\t  201.5\t   1000
END\t1008 \tSAMPLES\tEVENTS\tRES\t  38.0\t  38.0
"""

ASC_BINO = """\
MSG\t10 GAZE_COORDS 0.00 0.00 1023.00 767.00
SAMPLES\tGAZE\tLEFT\tRIGHT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2
20\t  100.0\t  200.0\t  900.0\t  110.0\t  210.0\t  900.0\t.....
21\t   .\t   .\t    0.0\t  112.0\t  212.0\t  900.0\t.....
22\t  104.0\t  204.0\t  900.0\t   .\t   .\t    0.0\t.....
EFIX L   20\t22\t3\t  102.0\t  202.0\t  900
EFIX R   20\t21\t2\t  111.0\t  211.0\t  900
"""


def test_eyelink_monocular(tmp_path):
    path = write(tmp_path, "s1.asc", ASC_MONO)
    rec = read_recording(path)
    assert rec.format == "eyelink" and rec.unit == "ms" and rec.eye == "L" and rec.rate == 500
    np.testing.assert_array_equal(rec.time, [1000, 1002, 1004, 1006])
    np.testing.assert_array_equal(rec.line, [6, 8, 9, 12])
    assert np.isnan(rec.x[2]) and rec.x[0] == 100.5
    assert rec.screen == (1280, 1024)
    assert (rec.fixations.start.tolist(), rec.fixations.end.tolist(), rec.fixations.x.tolist()) == \
        ([1002], [1006], [101.5])
    # MSG <time> <offset> <text>: the message refers to time - offset
    assert sync_time(rec, "VIDEO_START") == 1008
    assert sync_time(rec, "VIDEO_START {video}", video="clip") == 1008


def test_eyelink_binocular_eyes(tmp_path):
    path = write(tmp_path, "b.txt", ASC_BINO)
    assert detect_format(path) == "eyelink"  # an ASC under another name, by its lines
    both = read_recording(path, "eyelink")
    assert both.eye == "LR" and both.screen == (1024, 768)
    np.testing.assert_array_equal(both.x, [105, 112, 104])  # mean where both eyes, else the tracked one
    np.testing.assert_array_equal(read_recording(path, "eyelink", eye="right").y[:2], [210, 212])
    assert np.isnan(read_recording(path, "eyelink", eye="left").x[1])
    assert both.fixations.end.tolist() == [22]  # the left eye's events
    assert read_recording(path, "eyelink", eye="right").fixations.end.tolist() == [21]


def test_eyelink_errors_name_the_line(tmp_path):
    path = write(tmp_path, "bad.asc", ASC_MONO.replace("1002\t  101.0", "1002\t  1o1.0"))
    with pytest.raises(TrackerFileError, match=r"bad\.asc, line 8: .* is not an EyeLink sample"):
        read_recording(path)
    path = write(tmp_path, "events.asc", "MSG\t1 hello\nEFIX L 1\t2\t2\t3\t4\t5\n")
    with pytest.raises(TrackerFileError, match=r"events\.asc: no sample lines"):
        read_recording(path)
    with pytest.raises(TrackerFileError, match="has the left eye only"):
        read_recording(write(tmp_path, "m.asc", ASC_MONO), eye="right")


# --------------------------------------------------------------------------- sync


def test_sync_by_seconds_is_in_the_file_unit(tmp_path):
    rec = read_recording(write(tmp_path, "s1.asc", ASC_MONO))
    assert sync_time(rec, 1.004) == pytest.approx(1004)
    assert sync_time(rec, 0) == 0


def test_sync_errors_say_what_the_file_has(tmp_path):
    rec = read_recording(write(tmp_path, "s1.asc", ASC_MONO))
    with pytest.raises(TrackerFileError, match=re.escape(
            f"{rec.path}: no message or event 'MOVIE_ON' to sync the video on (its messages: "
            "'DISPLAY_COORDS 0 0 1279 1023'; 'VIDEO_START clip')")):
        sync_time(rec, "MOVIE_ON")
    twice = read_recording(write(tmp_path, "t.asc", ASC_MONO.replace("END", "MSG\t1007 VIDEO_START clip\nEND")))
    with pytest.raises(TrackerFileError, match=r"t\.asc, line 5, line 14: the message 'VIDEO_START' occurs "
                                               r"2 times"):
        sync_time(twice, "VIDEO_START")


def test_format_detection(tmp_path):
    assert detect_format(write(tmp_path, "a.asc", "whatever\n")) == "eyelink"
    assert detect_format(write(tmp_path, "a.tsv", tobii_text())) == "tobii"
    assert detect_format(write(tmp_path, "a.csv", "time,x,y\n")) == "csv"
    assert detect_format(write(tmp_path, "b.tsv", "time\tx\ty\n")) == "csv"


def test_windows_and_utf16_encodings(tmp_path):
    header = "Recording timestamp [µs]\tGaze point X [DACS px]\tGaze point Y [DACS px]\n"
    (tmp_path / "cp.tsv").write_bytes((header + "1000\t1,5\t2\n").encode("cp1252"))
    rec = read_recording(tmp_path / "cp.tsv")
    assert rec.format == "tobii" and rec.unit == "us" and rec.x[0] == 1.5
    (tmp_path / "u16.csv").write_text("time;x;y\r\n0,5;1;NAN\r\n", encoding="utf-16")
    rec = read_recording(tmp_path / "u16.csv")
    assert rec.time[0] == 0.5 and np.isnan(rec.y[0])


def test_blank_lines_keep_the_line_numbers(tmp_path):
    rec = read_recording(write(tmp_path, "g.csv", "time,x,y\n\n1,2,3\n\n\n2,-32768.0,4\n"))
    np.testing.assert_array_equal(rec.line, [3, 6])
    assert np.isnan(rec.x[1])
    with pytest.raises(TrackerFileError, match=r"g\.csv, line 4, column 'y': 'x' is not a number"):
        read_recording(write(tmp_path, "g.csv", "time,x,y\n\n1,2,3\n2,3,x\n"))
