"""Make docs/aoi_plot.png, the README's picture of an AOI plot, from synthetic maps.

    PYTHONPATH=workflow_scripts python3 docs/make_aoi_picture.py

Maps: a blob (the "player") crossing a 320x180 frame in 4 s at 25 fps over a
faint center bias; gaze: 5 viewers following the blob with some scatter,
one of them glancing at the score in the corner. AOIs: the score (fixed),
the player (moving, two keyframes), a pop-up (from 1.5 s to 2.5 s).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from salience import store
from salience.evaluation.aoi import aoi_table
from salience.evaluation.figures import plot_aoi

W, H, FPS, FRAMES = 320, 180, 25, 100


def blob_map(cx, cy):
    yy, xx = np.mgrid[0:H, 0:W]
    field = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 18.0**2)) + 0.05 * np.exp(
        -((xx - W / 2) ** 2 + (yy - H / 2) ** 2) / (2 * 80.0**2)) + 1e-4
    return np.log(field / field.sum()).astype(np.float32)


def main():
    out = Path(__file__).resolve().parent / "aoi_plot.png"
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path_x = np.linspace(40, 280, FRAMES)
        frames = ((i, blob_map(path_x[i], 110)) for i in range(FRAMES))
        store.write_frames(tmp / "s.zarr", frames, first=0, count=FRAMES, height=H, width=W,
                           attrs={"fps": FPS}, log_center_bias=blob_map(W / 2, H / 2))
        rows = ["participant,time,x,y"]
        for i in range(FRAMES):
            for viewer in range(5):
                x, y = path_x[i] + rng.normal(0, 12), 110 + rng.normal(0, 12)
                if viewer == 0 and 40 <= i < 55:
                    x, y = 290 + rng.normal(0, 4), 12 + rng.normal(0, 4)
                rows.append(f"v{viewer},{i / FPS:.3f},{x:.1f},{y:.1f}")
        (tmp / "gaze.csv").write_text("\n".join(rows) + "\n")
        (tmp / "aoi.csv").write_text("name,x0,y0,x1,y1,start,end,time\n"
                                     "score,260,0,320,25,,,\n"
                                     "player,15,85,65,135,,,0\nplayer,255,85,305,135,,,3.96\n"
                                     "popup,100,20,220,70,1.5,2.5,\n")
        aoi_table(tmp / "s.zarr", tmp / "aoi.csv", tmp / "aoi_out.csv", gaze_path=tmp / "gaze.csv")
        plot_aoi(tmp / "aoi_out.csv", out, title="synthetic example")
    print(out)


if __name__ == "__main__":
    main()
