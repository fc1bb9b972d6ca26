"""The Lund 2013 recording (../shared, GPL-3.0) written as each tracker exports it, read back.

Skipped where ../shared/data/lund2013 is absent (a user's machine).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.lund2013 import exports, written_exports

from salience.evaluation.trackers import by_participant, read_recording, sync_time

SYNC = {"eyelink": "VIDEO_START", "tobii": "VideoStimulusStart", "csv": "VIDEO_START"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    shared, _, patterns = written_exports(tmp_path_factory)
    return patterns, shared


def participants(pattern: str, fmt: str) -> dict:
    """participant -> (seconds from the sync, x, y, fixations (start s, end s, x, y)), as the reader gives them."""
    paths = ([Path(pattern.format(video=exports.VIDEO, participant=v)) for v in exports.VIEWERS]
             if "{participant}" in pattern else [Path(pattern.format(video=exports.VIDEO))])
    out = {}
    for path in paths:
        recording = read_recording(path)
        assert recording.format == fmt
        for who, part in by_participant(recording, path.stem).items():
            origin = sync_time(part, SYNC[fmt])
            fix = part.fixations
            fixations = None if fix is None else (part.seconds(fix.start, origin), part.seconds(fix.end, origin),
                                                  fix.x, fix.y)
            out[who] = (part.seconds(part.time, origin), part.x, part.y, fixations)
    return out


def test_every_format_reads_the_same_samples_and_events(written):
    patterns, shared = written
    read = {fmt: participants(pattern, fmt) for fmt, pattern in patterns.items()}
    assert all(sorted(r) == sorted(exports.VIEWERS) for r in read.values())
    for viewer in exports.VIEWERS:
        source = exports.load_viewer(shared, viewer)
        expected_t = (source.time_ms - source.time_ms[0]) / 1000
        for fmt, by_viewer in read.items():
            t, x, y, _ = by_viewer[viewer]
            np.testing.assert_allclose(t, expected_t, rtol=0, atol=1e-9, err_msg=f"{fmt} {viewer}")
            np.testing.assert_array_equal(x, source.x, err_msg=f"{fmt} {viewer}")  # NaN where lost
            np.testing.assert_array_equal(y, source.y, err_msg=f"{fmt} {viewer}")
        # the tracker's own fixations: the expert's, in the ASC's EFIX lines and Tobii's fixation rows alike
        events = exports.fixation_events(source)
        for fmt in ("eyelink", "tobii"):
            start, end, fx, fy = read[fmt][viewer][3]
            np.testing.assert_allclose(start, [expected_t[e[0]] for e in events], atol=1e-9)
            np.testing.assert_allclose(end, [expected_t[e[1]] for e in events], atol=1e-9)
            np.testing.assert_array_equal(fx, [e[2] for e in events])
            np.testing.assert_array_equal(fy, [e[3] for e in events])
        assert read["csv"][viewer][3] is None  # no events: fixations are detected


def test_the_screen_and_the_videos_place_come_from_the_files(written):
    patterns, _ = written
    asc = read_recording(patterns["eyelink"].format(video=exports.VIDEO, participant="TL30"))
    tsv = read_recording(patterns["tobii"].format(video=exports.VIDEO, participant="TL30"))
    assert asc.screen == (1024, 768) and asc.rate == 500 and asc.eye == "L"
    assert tsv.screen == (1024, 768) and tsv.media_rect == exports.VIDEO_RECT and tsv.unit == "us"


@pytest.mark.filterwarnings("ignore::UserWarning")  # its notes on header lines this file leaves out
def test_eyelink_reading_agrees_with_pymovements(written):
    """Samples, times and fixation events as pymovements reads the same ASC (where it is installed)."""
    pm = pytest.importorskip("pymovements")
    patterns, _ = written
    path = patterns["eyelink"].format(video=exports.VIDEO, participant="UL23")  # has lost samples
    ours = read_recording(path)
    theirs = pm.gaze.from_asc(path, events=True)
    samples = theirs.samples
    np.testing.assert_array_equal(samples["time"].to_numpy(), ours.time)
    pixel = np.array(samples["pixel"].to_list(), dtype=np.float64)
    np.testing.assert_array_equal(pixel[:, 0], ours.x)
    np.testing.assert_array_equal(pixel[:, 1], ours.y)
    events = theirs.events.frame
    fixations = events.filter(events["name"] == "fixation_eyelink")
    np.testing.assert_array_equal(fixations["onset"].to_numpy(), ours.fixations.start)
    np.testing.assert_array_equal(fixations["offset"].to_numpy(), ours.fixations.end)


LUND = dict(coordinates="screen", screen=exports.SCREEN, video_rect="centered", screen_cm=(38, 30), distance_cm=67)


def points_per_format(patterns, **settings):
    """format -> {participant: (frame, x px, y px)} of the whole recording."""
    from salience.evaluation.gaze import GazeSettings, VideoFrames, read_points

    video = VideoFrames(np.arange(143) / 25, 143 / 25, *exports.VIDEO_SIZE)
    out = {}
    for fmt, pattern in patterns.items():
        config = GazeSettings(**{**LUND, **settings, "sync": SYNC[fmt]})
        found = []
        if "{participant}" in pattern:
            for viewer in exports.VIEWERS:
                found += read_points(pattern.format(video=exports.VIDEO, participant=viewer), config, video,
                                     participant=viewer)
        else:
            found += read_points(pattern.format(video=exports.VIDEO), config, video)
        out[fmt] = {p.participant: (p.frame, np.floor(p.x), np.floor(p.y)) for p in found}
    return out


@pytest.mark.parametrize("settings", [{"points": "samples"}, {"points": "fixations", "fixations": "detect"},
                                      {"points": "fixations", "fixations": "detect",
                                       "fixation_filter": {"method": "idt"}}])
def test_every_format_gives_the_same_points_on_the_same_frames(written, settings):
    from salience.evaluation.fixations import FixationFilter

    settings = dict(settings)
    if "fixation_filter" in settings:
        settings["fixation_filter"] = FixationFilter(**settings["fixation_filter"])
    found = points_per_format(written[0], **settings)
    reference = found["eyelink"]
    assert sum(len(p[0]) for p in reference.values()) > 500  # not an empty agreement
    for fmt, by_viewer in found.items():
        assert sorted(by_viewer) == sorted(reference)
        for viewer, arrays in by_viewer.items():
            for ours, theirs in zip(arrays, reference[viewer]):
                np.testing.assert_array_equal(ours, theirs, err_msg=f"{fmt} {viewer}")


def test_tracker_fixations_agree_between_eyelink_and_tobii(written):
    patterns = {fmt: written[0][fmt] for fmt in ("eyelink", "tobii")}
    found = points_per_format(patterns, points="fixations")
    for viewer in exports.VIEWERS:
        for ours, theirs in zip(found["tobii"][viewer], found["eyelink"][viewer]):
            np.testing.assert_array_equal(ours, theirs)


def test_samples_land_on_the_frame_and_pixel_of_the_source(written):
    """Frame = the 40 ms interval of the sample's time after the first sample; pixel = screen - (152, 96)."""
    patterns, shared = written
    found = points_per_format({"csv": patterns["csv"]}, points="samples")["csv"]
    for viewer in exports.VIEWERS:
        source = exports.load_viewer(shared, viewer)
        frame = (source.time_ms - source.time_ms[0]) // 40
        x, y = np.floor(source.x - 152), np.floor(source.y - 96)
        keep = ~np.isnan(x) & (x >= 0) & (x < 720) & (y >= 0) & (y < 576)
        np.testing.assert_array_equal(found[viewer][0], frame[keep])
        np.testing.assert_array_equal(found[viewer][1], x[keep])
        np.testing.assert_array_equal(found[viewer][2], y[keep])
