"""Video ids: every file name a file system allows becomes a distinct, safe id."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from salience import plan
from salience.errors import VideoError

REPO = Path(__file__).resolve().parents[2]


def ids_of(tmp_path, *names, patterns=None):
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    found = plan.find_videos(patterns or list(names), base=tmp_path)
    return {path.relative_to(tmp_path).as_posix(): vid for vid, path in found.items()}


def assert_safe(vid: str) -> None:
    assert vid not in (".", "..") and not vid.startswith((".", "-", "_")), vid
    assert "/" not in vid and "\0" not in vid and not set("{}[]*?") & set(vid), vid
    assert len(vid.encode()) <= 255, vid


def test_plain_names_keep_their_stem():
    assert plan.video_id("/data/Game Play #3.mp4") == "Game_Play_3"
    assert plan.video_id("clip.v2.mkv") == "clip.v2"


ODD_NAMES = ["...mp4", "clip {x}.mp4", "[P01] trial.mp4", "запись.mp4", "日本.mp4", "weights.mp4",
             "a?b*c.mp4", "-dash.mp4", "tab\there.mp4", "line\nbreak.mp4", "x" * 240 + ".mp4"]


def test_odd_names_get_distinct_safe_ids(tmp_path):
    ids = ids_of(tmp_path, *ODD_NAMES)
    assert sorted(ids) == sorted(ODD_NAMES)  # each file found, literally (no glob surprises)
    assert len(set(ids.values())) == len(ODD_NAMES)
    for vid in ids.values():
        assert_safe(vid)
    assert ids["...mp4"] == "video"  # never '..': nothing is written outside results/<id>/
    assert ids["clip {x}.mp4"] == "clip_x" and ids["[P01] trial.mp4"] == "P01_trial"
    assert ids["запись.mp4"] == "запись" and ids["日本.mp4"] == "日本"  # non-Latin names kept
    assert ids["weights.mp4"].startswith("weights-")  # results/weights/ is the weights record's


def test_names_that_would_share_an_id_are_told_apart(tmp_path):
    nfc = unicodedata.normalize("NFC", "café.mp4")
    nfd = unicodedata.normalize("NFD", "café.mp4")
    ids = ids_of(tmp_path, "clip.mp4", "clip.mkv", "clip!.mp4", "Clip.mov", nfc, nfd,
                 "P01/trial.mp4", "P02/trial.mp4", "solo?.mp4")
    assert len(set(ids.values())) == len(ids) == 9
    assert len({vid.casefold() for vid in ids.values()}) == 9  # case-insensitive file systems too
    assert ids["solo?.mp4"] == "solo"  # alone: no suffix
    for name in ("clip.mp4", "clip.mkv", "clip!.mp4", "Clip.mov"):
        assert re.fullmatch(r"[Cc]lip-[0-9a-f]{8}", ids[name]), ids
    assert ids == ids_of(tmp_path, *reversed(list(ids)))  # ids do not depend on the order


def test_a_plain_name_keeps_its_id_beside_an_odd_namesake(tmp_path):
    ids = ids_of(tmp_path, "take.mp4", "take!.mp4")
    assert ids["take.mp4"] == "take" and ids["take!.mp4"].startswith("take-")


def test_literal_names_with_glob_characters_are_found(tmp_path):
    ids = ids_of(tmp_path, "[P01] trial.mp4", "P trial.mp4")
    assert set(ids) == {"[P01] trial.mp4", "P trial.mp4"}
    # as a pattern, brackets still make a character class
    assert set(ids_of(tmp_path, patterns=["[P]*.mp4"])) == {"P trial.mp4"}


def test_globs_never_take_the_workflows_own_outputs(tmp_path):
    for name in ("clip.mp4", "results/clip/heatmap.mp4", "results/clip/segments/overlay/0-4.mp4",
                 "logs/clip/x.mp4", "data/b.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = plan.find_videos(["**/*.mp4"], base=tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in found.values()) == ["clip.mp4", "data/b.mp4"]
    with pytest.raises(VideoError, match="matches no file"):
        plan.find_videos(["results/*/*.mp4"], base=tmp_path)


def test_a_moved_video_is_kept_only_with_its_results(tmp_path):
    with pytest.raises(VideoError, match="does not exist"):
        plan.find_videos(["gone.mp4"], base=tmp_path, results="results")
    (tmp_path / "results" / "gone").mkdir(parents=True)
    (tmp_path / "results" / "gone" / "probe.json").write_text("{}")
    assert plan.find_videos(["gone.mp4"], base=tmp_path, results="results") == {"gone": tmp_path / "gone.mp4"}
    with pytest.raises(VideoError, match="does not exist"):
        plan.find_videos(["gone.mp4"], base=tmp_path)
    (tmp_path / "results" / "P01_trial").mkdir(parents=True)
    (tmp_path / "results" / "P01_trial" / "probe.json").write_text("{}")
    found = plan.find_videos(["[P01] trial.mp4"], base=tmp_path, results="results")
    assert found == {"P01_trial": tmp_path / "[P01] trial.mp4"}  # not read as a pattern that matches nothing


def test_reserved_ids_name_every_top_level_output_of_the_rules():
    """A video id must never equal a name the rules write directly under results/ or logs/."""
    text = "\n".join(p.read_text() for p in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))])
    top = set()
    for match in re.finditer(r'"(?:results|logs)/([^"/{]+)(?=[/"])', text):
        top.add(match.group(1))
    assert top, "no literal top-level outputs found: the pattern is stale"
    assert top <= plan.RESERVED_IDS, sorted(top - plan.RESERVED_IDS)


def test_paths_with_braces_are_named_by_a_link(tmp_path):
    video = tmp_path / "clip {x}.mp4"
    video.write_bytes(b"data")
    plain = tmp_path / "plain.mp4"
    assert plan.tracked_path("plain", plain, tmp_path / "links") == plain
    link = plan.tracked_path("clip_x", video, tmp_path / "links")
    assert "{" not in str(link) and link.read_bytes() == b"data"
    assert plan.tracked_path("clip_x", video, tmp_path / "links") == link  # kept as it is
