"""Areas of interest: reading, timing, moving keyframes, per-frame shares, the plot, outlines."""

from __future__ import annotations

import csv
import numpy as np
import pytest
from helpers.stores import make_store, normalized

from salience.__main__ import main
from salience.evaluation.aoi import check_inside, frame_rows, pixel_box, read_aoi_csv
from salience.rendering.aoi_outlines import draw_aois
from salience.evaluation.tables import TableError


def write(tmp_path, text):
    path = tmp_path / "aoi.csv"
    path.write_text(text)
    return path


def test_static_timed_and_moving_aois(tmp_path):
    aois = {a.name: a for a in read_aoi_csv(write(tmp_path, (
        "name,x0,y0,x1,y1,start,end,time\n"
        "hud,0,0,10,4,,,\n"
        "popup,2,2,6,6,1.0,2.0,\n"
        "car,0,0,4,4,,,3.0\n"
        "car,10,20,18,30,,,1.0\n")))}  # keyframes out of order: sorted by time
    assert aois["hud"].box_at(0.0) == (0, 0, 10, 4) and aois["hud"].box_at(1e9) == (0, 0, 10, 4)
    assert aois["popup"].box_at(0.99) is None and aois["popup"].box_at(1.0) is not None
    assert aois["popup"].box_at(2.0) is None  # end is exclusive
    car = aois["car"]
    assert car.box_at(0.5) is None and car.box_at(3.01) is None  # only between its keyframes
    assert car.box_at(1.0) == (10, 20, 18, 30) and car.box_at(3.0) == (0, 0, 4, 4)
    assert car.box_at(1.5) == pytest.approx((7.5, 15, 14.5, 23.5))  # a quarter of the way
    assert car.box_at(2.0) == pytest.approx((5, 10, 11, 17))


@pytest.mark.parametrize("text, where", [
    ("name,x0,y0,x1\nhud,0,0,1\n", r"line 1: the AOI CSV has no column y1"),
    ("x0,y0,x1,y1\n0,0,1,1\n", r"line 1: the AOI CSV has no column 'name'"),
    ("name,x0,y0,x1,y1\nhud,0,0,1,1\nmap,5,5,4,9\n", r"line 3, column 'x1': x1 = 4 must be greater than x0 = 5"),
    ("name,x0,y0,x1,y1\nhud,0,0,one,1\n", r"line 2, column 'x1': 'one' is not a number"),
    ("name,x0,y0,x1,y1,time\ncar,0,0,1,1,1\ncar,0,0,2,2,\n", r"line 3, column 'time': AOI 'car' has 2 rows"),
    ("name,x0,y0,x1,y1,time\ncar,0,0,1,1,1\ncar,0,0,2,2,1\n", r"line 3, column 'time': AOI 'car' has two keyframes"),
    ("name,x0,y0,x1,y1,start,end\nhud,0,0,1,1,5,2\n", r"line 2, column 'end': AOI 'hud' ends \(2 s\) at or before its start"),
    ("name,x0,y0,x1,y1,start,end\nhud,0,0,1,1,2,2\n", r"line 2, column 'end': AOI 'hud' ends \(2 s\) at or before its start \(2 s\)"),
])
def test_bad_aoi_csv_names_file_line_and_column(tmp_path, text, where):
    path = write(tmp_path, text)
    with pytest.raises(TableError, match=str(path).replace(".", r"\.") + ", " + where):
        read_aoi_csv(path)


def test_aois_outside_the_frame_are_refused(tmp_path):
    # the README's 1080p example on a 640x360 video
    path = write(tmp_path, "name,x0,y0,x1,y1\nscore,40,20,400,120\nplayer,800,300,1100,900\n")
    check_inside(path, read_aoi_csv(path), 1920, 1080)
    with pytest.raises(TableError, match=str(path).replace(".", r"\.") + r", line 3, column 'x0': x0 = 800 lies "
                                                                     r"outside the 640x360 frame .*'player'"):
        check_inside(path, read_aoi_csv(path), 640, 360)


def test_pixel_membership_by_pixel_centers():
    assert pixel_box((10, 20, 20, 25), 100, 50) == (20, 25, 10, 20)
    assert pixel_box((0.4, 0.6, 1.6, 1.4), 100, 50) == (1, 1, 0, 2)  # centers 0.5 and 1.5 inside x
    assert pixel_box((-5, -5, 200, 3), 100, 50) == (0, 3, 0, 100)  # clipped to the frame
    assert pixel_box((150, 0, 160, 3), 100, 50)[2:] == (100, 100)  # off screen: empty


def test_shares_by_hand():
    density = np.full((4, 10), 1 / 40)
    density[0, 0] += 0.5  # a peak in the corner
    density /= density.sum()
    aois = read_aoi_from_rows([("corner", 0, 0, 2, 2), ("rest", 2, 0, 10, 4)])
    rows = frame_rows(density, aois, 0.0, points=(np.array([0, 1, 5]), np.array([0, 3, 2])))
    corner, rest = rows
    total = 1 + 0.5
    assert corner[1] == pytest.approx((4 / 40 + 0.5) / total)
    assert corner[2] == pytest.approx(4 / 40) and corner[3] == pytest.approx(corner[1] / 0.1)
    assert corner[4] == pytest.approx(1 / 3)  # (0,0) inside; (1,3) below it; (5,2) in "rest"
    assert rest[4] == pytest.approx(1 / 3)
    uniform = frame_rows(np.full((4, 10), 1 / 40), aois, 0.0)
    assert [r[3] for r in uniform] == pytest.approx([1.0, 1.0]) and uniform[0][4] is None


def read_aoi_from_rows(rows):
    from salience.evaluation.aoi import AOI

    return [AOI(name, np.array([[x0, y0, x1, y1]], float), np.empty(0)) for name, x0, y0, x1, y1 in rows]


def test_aoi_cli_writes_every_frame_and_a_plot(tmp_path):
    count, height, width = 5, 8, 12
    rng = np.random.default_rng(2)
    maps = normalized(rng.normal(size=(count, height, width))).astype(np.float32)
    store = make_store(tmp_path / "clip" / "saliency.zarr", maps, fps=10.0)
    aoi = write(tmp_path, "name,x0,y0,x1,y1,start,end,time\n"
                          "left,0,0,6,8,,,\nlate,6,0,12,8,0.2,,\n"
                          "box,0,0,4,4,,,0.0\nbox,8,4,12,8,,,0.4\n")
    gaze = tmp_path / "gaze.csv"
    gaze.write_text("time,x,y\n0.0,1,1\n0.0,7,1\n0.35,11,7\n")
    out, plot = tmp_path / "clip" / "aoi.csv", tmp_path / "clip" / "aoi.svg"
    assert main(["aoi", str(store), "--aoi", str(aoi), "--output", str(out), "--plot", str(plot),
                 "--gaze", str(gaze)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == ("frame", "time", "aoi", "mass", "area_fraction", "ratio", "human_fraction")
    assert [(r["frame"], r["aoi"]) for r in rows if r["frame"] == "0"] == [("0", "left"), ("0", "box")]
    assert sum(r["aoi"] == "late" for r in rows) == 3  # frames at 0.2, 0.3, 0.4
    p = np.exp(maps.astype(np.float64))
    p /= p.sum(axis=(1, 2), keepdims=True)
    left0 = next(r for r in rows if r["frame"] == "0" and r["aoi"] == "left")
    assert float(left0["mass"]) == pytest.approx(p[0, :, :6].sum(), abs=1e-12)
    assert float(left0["ratio"]) == pytest.approx(p[0, :, :6].sum() / 0.5, abs=1e-12)
    assert float(left0["human_fraction"]) == 0.5
    box2 = next(r for r in rows if r["frame"] == "2" and r["aoi"] == "box")  # halfway: (4, 2, 8, 6)
    assert float(box2["mass"]) == pytest.approx(p[2, 2:6, 4:8].sum(), abs=1e-12)
    assert next(r for r in rows if r["frame"] == "1")["human_fraction"] == ""  # no gaze on frame 1
    assert plot.read_text().lstrip().startswith("<?xml") and "left: model" in plot.read_text()


def test_outlines_drawn_where_the_aoi_is():
    frame = np.zeros((20, 30, 3), np.uint8)
    aois = read_aoi_from_rows([("a", 5, 5, 15, 12)])
    draw_aois(frame, aois, 0.0, thickness=1, labels=False)
    drawn = frame.any(axis=-1)
    assert drawn[5, 5:15].all() and drawn[11, 5:15].all() and drawn[5:12, 5].all() and drawn[5:12, 14].all()
    assert not drawn[12:, :].any() and not drawn[:, 15:].any() and not drawn[:5, :].any()
