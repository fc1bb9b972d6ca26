"""Make docs/readme_picture.jpg, the picture at the top of the README.

    snakemake --cores all --config weights=untrained    # the quick start's offline trial
    python3 docs/make_readme_picture.py \
        [--lund ../shared/data/lund2013] [--overlay results/sample/overlay.mp4]

Left: one frame of the Lund 2013 triple-jump clip with the heatmap of where
six people looked (the samples an expert labelled as fixation or smooth
pursuit: on video, following a moving person is pursuit), made as the
workflow's evaluation makes human heatmaps: the gaze goes through a gaze CSV,
``evaluation.gaze.load_gaze``, ``evaluation.density.EmpiricalDensity`` (1 degree FWHM) and the
colours and blending of the rendered videos (``rendering.colour.colorize``,
``rendering.colour.blend``). Right: one frame of the sample's ``overlay.mp4`` as the
offline trial renders it (untrained weights: the map means nothing).

The Lund 2013 data (GPL-3.0; Larsson, Nyström & Stridh 2013; Andersson et
al. 2017; github.com/richardandersson/EyeMovementDetectorEvaluation) is not
part of this repository; the picture made from it is under the same licence.
Its gaze files (MATLAB struct ``ETdata``, one per viewer and coder): ``pos``
columns timestamp (us), pupil width, pupil height, x, y (pixels of a
1024x768 screen), label (1 fixation, 4 smooth pursuit); x = y = 0 is a lost
sample. The 720x576 video was shown centred at its native size, and the
first sample is the first frame.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import cv2
import numpy as np
import scipy.io

from salience.evaluation.density import EmpiricalDensity, sigma_pixels
from salience.evaluation.gaze import Timeline, load_gaze
from salience.rendering.colour import blend, colorize
from salience.video import probe, read_frames

HERE = Path(__file__).resolve().parent
LUND_FRAME = 98  # the jumper in mid-air, all six viewers on the jumper
SAMPLE_FRAME = 87
LOOKING = (1, 4)  # the coder's labels of gaze held on something: fixation, smooth pursuit
HEIGHT = 360  # of each half of the picture, in pixels


def lund_gaze_csv(gaze_dir: Path, video_size: tuple[int, int], out: Path) -> float:
    """Write every viewer's fixation and pursuit samples (coder RA) as a gaze CSV; return px per degree."""
    rows = ["participant,time,x,y"]
    for path in sorted(gaze_dir.glob("*_labelled_RA.mat")):
        data = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["ETdata"]
        screen_w, screen_h = (int(v) for v in data.screenRes)
        left, top = (screen_w - video_size[0]) / 2, (screen_h - video_size[1]) / 2  # centred
        time_us, x, y, label = data.pos[:, 0], data.pos[:, 3], data.pos[:, 4], data.pos[:, 5]
        keep = np.isin(label, LOOKING) & ~((x == 0) & (y == 0))
        viewer = path.name.split("_")[0]
        for t, px, py in zip((time_us[keep] - time_us[0]) / 1e6, x[keep] - left, y[keep] - top):
            rows.append(f"{viewer},{t:.4f},{px:.2f},{py:.2f}")
        # pixels per degree at the screen's centre (the video's pixels are the screen's)
        pixels_per_degree = screen_w / float(data.screenDim[0]) * float(data.viewDist) * math.tan(math.radians(1))
    out.write_text("\n".join(rows) + "\n")
    return pixels_per_degree


def frame_of(info, index: int) -> np.ndarray:
    return next(read_frames(info, index, index + 1))


def fit(picture: np.ndarray) -> np.ndarray:
    height, width = picture.shape[:2]
    return cv2.resize(picture, (round(width * HEIGHT / height), HEIGHT), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lund", type=Path, default=HERE.parent.parent / "shared" / "data" / "lund2013")
    parser.add_argument("--overlay", type=Path, default=HERE.parent / "results" / "sample" / "overlay.mp4")
    parser.add_argument("--lund-frame", type=int, default=LUND_FRAME)
    parser.add_argument("--sample-frame", type=int, default=SAMPLE_FRAME)
    parser.add_argument("--output", type=Path, default=HERE / "readme_picture.jpg")
    args = parser.parse_args()
    for needed in (args.lund / "triple_jump.avi", args.overlay):
        if not needed.exists():
            raise SystemExit(f"{needed} not found: see the top of {Path(__file__).name} for where it comes from")

    video = probe(args.lund / "triple_jump.avi")
    timeline = Timeline(np.asarray(video.timestamps), video.timestamps[-1] + 1 / video.fps)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "gaze.csv"
        pixels_per_degree = lund_gaze_csv(args.lund / "gaze", (video.width, video.height), csv)
        gaze = load_gaze(csv, timeline, video.width, video.height)
    k = int(np.flatnonzero(gaze.frames == args.lund_frame)[0])
    density = EmpiricalDensity(video.height, video.width, sigma_pixels(pixels_per_degree, 1.0))
    with np.errstate(divide="ignore"):
        heat = colorize(np.log(density.image(*gaze.points(k))))
    human = blend(frame_of(video, args.lund_frame), heat, 0.5)
    overlay = frame_of(probe(args.overlay), args.sample_frame)

    gap = np.full((HEIGHT, 8, 3), 255, np.uint8)
    picture = np.concatenate([fit(human), gap, fit(overlay)], axis=1)
    if not cv2.imwrite(str(args.output), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]):
        raise OSError(f"could not write {args.output}")
    print(f"{args.output}: {picture.shape[1]}x{picture.shape[0]}, frame {args.lund_frame} of the triple jump "
          f"({len(gaze.points(k)[0])} gaze samples), {pixels_per_degree:.1f} px/degree")


if __name__ == "__main__":
    main()
