"""Write the Lund 2013 triple-jump recording as eye trackers export it: EyeLink ASC, Tobii Pro Lab TSV, CSV.

    python tests/data/lund2013/make_exports.py OUT [--shared ../shared]

The recording (``../shared/data/lund2013``, see its README) holds 500 Hz
samples of 6 viewers in pixels of a 1024x768 screen, the 720x576 video
centred on it, on each viewer's tracker clock (µs), the video's first frame
at each file's first sample, and two experts' labels per sample. From it,
under OUT:

* ``eyelink/triple_jump/<viewer>.asc``: monocular (left) samples in ms of
  the tracker clock, ``.`` for lost samples, ``MSG <t> VIDEO_START
  triple_jump`` at the first frame, ``DISPLAY_COORDS 0 0 1023 767``, and
  ``EFIX``/``ESACC``/``EBLINK`` events from expert RA's labels (fixation,
  saccade, blink runs);
* ``tobii/triple_jump/<viewer>.tsv``: a Tobii Pro Lab data export: tab
  separated, ``Recording timestamp [μs]`` counted from a recording start
  1.5 s before the video, event rows ``RecordingStart`` and
  ``VideoStimulusStart`` (value ``triple_jump.avi``), empty cells for lost
  samples, the media's position and size columns, ``Eye movement type``
  from RA's labels with ``Fixation point X/Y``;
* ``csv/triple_jump.csv``: all viewers in one file as a European-locale
  spreadsheet writes it: UTF-8 with BOM, CRLF, ``;`` separated, decimal
  commas, times in seconds of the tracker clock, empty cells for lost
  samples, a ``participant`` column and ``VIDEO_START`` event rows.

Every file holds the same numbers: times rounded to whole ms (an EyeLink's
clock) and positions to 0.1 px (the ASC's precision), so that every format
must give the same points on the same frames.

Data: Larsson, Nyström & Stridh (2013), IEEE Trans. Biomed. Eng. 60(9):
2484-2493; Andersson, Larsson, Holmqvist, Stridh & Nyström (2017), Behav.
Res. Methods 49(2): 616-637; repository
richardandersson/EyeMovementDetectorEvaluation. Licensed GNU GPL v3: the
files written here are derived from it and carry that licence (they are
written at test time and not kept in this repository).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VIDEO = "triple_jump"
VIEWERS = ("TL30", "TL32", "TL44", "UL23", "UL27", "UL31")
EXPERT = "RA"  # labels of every viewer (MN labelled four)
SCREEN = (1024, 768)
VIDEO_SIZE = (720, 576)
VIDEO_RECT = (152, 96, 720, 576)  # centred at native size (the data README)
TOBII_PREROLL_US = 1_500_000  # Tobii's recording starts this long before the video
LABELS = {1: "fixation", 2: "saccade", 3: "pso", 4: "pursuit", 5: "blink", 6: "undefined"}


def shared_dir() -> Path | None:
    """../shared of the repository (or $SALIENCE_SHARED), where it exists."""
    candidates = [os.environ.get("SALIENCE_SHARED"), Path(__file__).resolve().parents[4] / "shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "data" / "lund2013" / "gaze").is_dir():
            return Path(candidate)
    return None


@dataclass
class Viewer:
    name: str
    time_ms: np.ndarray  # int64, tracker clock
    x: np.ndarray  # screen px, rounded to 0.1; NaN where lost
    y: np.ndarray
    pupil: np.ndarray
    labels: dict  # expert -> (n,) int labels

    @property
    def lost(self) -> np.ndarray:
        return np.isnan(self.x)


def load_viewer(shared: Path, name: str) -> Viewer:
    from scipy.io import loadmat

    folder = Path(shared) / "data" / "lund2013" / "gaze"
    labels, pos = {}, None
    for expert in ("RA", "MN"):
        path = folder / f"{name}_video_{VIDEO}_labelled_{expert}.mat"
        if path.exists():
            data = loadmat(path, squeeze_me=True, struct_as_record=False)["ETdata"]
            if pos is None:
                pos = np.asarray(data.pos, dtype=np.float64)
            labels[expert] = np.asarray(data.pos[:, 5], dtype=np.int64)
    time_ms = np.round(pos[:, 0] / 1000).astype(np.int64)
    lost = (pos[:, 3] == 0) & (pos[:, 4] == 0)  # the source's mark of a lost sample
    x = np.where(lost, np.nan, np.round(pos[:, 3], 1))
    y = np.where(lost, np.nan, np.round(pos[:, 4], 1))
    return Viewer(name, time_ms, x, y, np.round(pos[:, 1] * 10), labels)


def runs(labels: np.ndarray, value: int):
    """(first, last) index of each run of ``value``."""
    mask = np.concatenate(([0], (labels == value).astype(np.int8), [0]))
    edges = np.diff(mask)
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def fixation_events(viewer: Viewer, expert: str = EXPERT):
    """(first, last, x, y) of the expert's fixations; x, y: mean of the tracked samples, 0.1 px."""
    events = []
    for first, last in runs(viewer.labels[expert], 1):
        x, y = viewer.x[first:last + 1], viewer.y[first:last + 1]
        if np.isnan(x).all():
            continue
        events.append((first, last, round(float(np.nanmean(x)), 1), round(float(np.nanmean(y)), 1)))
    return events


def _cell(value, comma=False, digits=1) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if comma else text


def write_asc(viewer: Viewer, path: Path) -> None:
    t = viewer.time_ms
    rows = {i: [] for i in range(len(t))}  # events written after the sample they end on
    starts = {i: [] for i in range(len(t))}
    for first, last, x, y in fixation_events(viewer):
        starts[first].append(f"SFIX L   {t[first]}")
        pupil = int(np.nanmean(viewer.pupil[first:last + 1]))
        rows[last].append(f"EFIX L   {t[first]}\t{t[last]}\t{t[last] - t[first] + 2}\t{x:7.1f}\t{y:7.1f}\t{pupil:7d}")
    for first, last in runs(viewer.labels[EXPERT], 2):
        sx, sy, ex, ey = viewer.x[first], viewer.y[first], viewer.x[last], viewer.y[last]
        amplitude = np.hypot(ex - sx, ey - sy) / 31.5 if not np.isnan([sx, sy, ex, ey]).any() else np.nan
        starts[first].append(f"SSACC L  {t[first]}")
        rows[last].append(f"ESACC L  {t[first]}\t{t[last]}\t{t[last] - t[first] + 2}\t"
                          + "\t".join(f"{v:7.1f}" if not np.isnan(v) else "   ." for v in (sx, sy, ex, ey))
                          + (f"\t{amplitude:6.2f}" if not np.isnan(amplitude) else "\t   .") + "\t     0")
    for first, last in runs(viewer.labels[EXPERT], 5):
        starts[first].append(f"SBLINK L {t[first]}")
        rows[last].append(f"EBLINK L {t[first]}\t{t[last]}\t{t[last] - t[first] + 2}")
    out = ["** CONVERTED FROM {0}.EDF (Lund 2013 {1}, written as an EyeLink ASC)".format(viewer.name, VIDEO),
           "** TYPE: EDF_FILE BINARY EVENT SAMPLE TAGGED",
           "** SOURCE: Larsson et al. 2013, Andersson et al. 2017; GNU GPL v3",
           "**",
           f"MSG\t{t[0] - 1200} DISPLAY_COORDS 0 0 {SCREEN[0] - 1} {SCREEN[1] - 1}",
           f"MSG\t{t[0] - 1100} RECCFG CR 500 2 1 L",
           f"MSG\t{t[0] - 1000} TRIALID 1",
           f"START\t{t[0] - 2} \tLEFT\tSAMPLES\tEVENTS",
           "PRESCALER\t1", "VPRESCALER\t1", "PUPIL\tAREA",
           "EVENTS\tGAZE\tLEFT\tRATE\t 500.00\tTRACKING\tCR\tFILTER\t2",
           "SAMPLES\tGAZE\tLEFT\tRATE\t 500.00\tTRACKING\tCR\tFILTER\t2",
           f"MSG\t{t[0]} VIDEO_START {VIDEO}"]
    for i in range(len(t)):
        out.extend(starts[i])
        if viewer.lost[i]:
            out.append(f"{t[i]}\t   .\t   .\t    0.0\t...")
        else:
            out.append(f"{t[i]}\t{viewer.x[i]:7.1f}\t{viewer.y[i]:7.1f}\t{viewer.pupil[i]:7.1f}\t...")
        out.extend(rows[i])
    out += [f"MSG\t{t[-1]} VIDEO_END {VIDEO}", f"END\t{t[-1] + 2} \tSAMPLES\tEVENTS\tRES\t  31.50\t  31.50"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")


TOBII_COLUMNS = ("Recording timestamp [μs]", "Sensor", "Participant name", "Recording name",
                 "Recording resolution height", "Recording resolution width", "Gaze point X [DACS px]",
                 "Gaze point Y [DACS px]", "Pupil diameter left [mm]", "Presented Stimulus name",
                 "Presented Media name", "Presented Media width", "Presented Media height",
                 "Presented Media position X (DACSpx)", "Presented Media position Y (DACSpx)",
                 "Original Media width", "Original Media height", "Eye movement type",
                 "Gaze event duration [ms]", "Eye movement type index", "Fixation point X [DACS px]",
                 "Fixation point Y [DACS px]", "Event", "Event value")
TOBII_TYPES = {1: "Fixation", 2: "Saccade", 5: "EyesNotFound"}  # others: Unclassified


def write_tobii(viewer: Viewer, path: Path) -> None:
    t = viewer.time_ms
    stamp = (t - t[0]) * 1000 + TOBII_PREROLL_US  # µs from the recording's start
    kinds = [TOBII_TYPES.get(int(label), "Unclassified") for label in viewer.labels[EXPERT]]
    index, duration = [""] * len(t), [""] * len(t)
    counters: dict = {}
    i = 0
    while i < len(t):
        j = i
        while j + 1 < len(t) and kinds[j + 1] == kinds[i]:
            j += 1
        counters[kinds[i]] = counters.get(kinds[i], 0) + 1
        for k in range(i, j + 1):
            index[k], duration[k] = str(counters[kinds[i]]), str(int(t[j] - t[i] + 2))
        i = j + 1
    fix_x, fix_y = [""] * len(t), [""] * len(t)
    for first, last, x, y in fixation_events(viewer):
        for k in range(first, last + 1):
            fix_x[k], fix_y[k] = _cell(x), _cell(y)
    media = ["triple_jump", f"{VIDEO}.avi", *map(str, (VIDEO_RECT[2], VIDEO_RECT[3], VIDEO_RECT[0], VIDEO_RECT[1])),
             *map(str, VIDEO_SIZE)]
    blank_media = [""] * len(media)
    lines = ["\t".join(TOBII_COLUMNS)]

    def event(time_us, name, value="", with_media=False):
        cells = [str(time_us), "", viewer.name, "Recording1", str(SCREEN[1]), str(SCREEN[0]), "", "", "",
                 *(media if with_media else blank_media), "", "", "", "", "", name, value]
        lines.append("\t".join(cells))

    event(0, "RecordingStart")
    event(TOBII_PREROLL_US, "VideoStimulusStart", f"{VIDEO}.avi", with_media=True)
    for i in range(len(t)):
        cells = [str(stamp[i]), "Eye Tracker", viewer.name, "Recording1", str(SCREEN[1]), str(SCREEN[0]),
                 _cell(viewer.x[i]), _cell(viewer.y[i]),
                 "" if viewer.lost[i] else f"{viewer.pupil[i] / 200:.3f}", *media, kinds[i], duration[i],
                 index[i], fix_x[i], fix_y[i], "", ""]
        lines.append("\t".join(cells))
    event(int(stamp[-1]) + 2000, "VideoStimulusEnd", f"{VIDEO}.avi", with_media=True)
    event(int(stamp[-1]) + 500_000, "RecordingEnd")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))


def write_csv(viewers, path: Path) -> None:
    lines = ["participant;time;x;y;event"]
    for viewer in viewers:
        t = viewer.time_ms
        lines.append(f"{viewer.name};{t[0] / 1000:.3f}".replace(".", ",") + ";;;VIDEO_START")
        for i in range(len(t)):
            lines.append(f"{viewer.name};" + f"{t[i] / 1000:.3f}".replace(".", ",") + ";"
                         + _cell(viewer.x[i], comma=True) + ";" + _cell(viewer.y[i], comma=True) + ";")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))


def write_all(out: Path, shared: Path, viewers=VIEWERS) -> dict:
    """Write every export under ``out``; return {format: path pattern} for config ``gaze: files``."""
    out = Path(out)
    loaded = [load_viewer(shared, name) for name in viewers]
    for viewer in loaded:
        write_asc(viewer, out / "eyelink" / VIDEO / f"{viewer.name}.asc")
        write_tobii(viewer, out / "tobii" / VIDEO / f"{viewer.name}.tsv")
    write_csv(loaded, out / "csv" / f"{VIDEO}.csv")
    return {"eyelink": str(out / "eyelink" / "{video}" / "{participant}.asc"),
            "tobii": str(out / "tobii" / "{video}" / "{participant}.tsv"),
            "csv": str(out / "csv" / "{video}.csv")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=shared_dir())
    args = parser.parse_args()
    if args.shared is None:
        parser.error("no ../shared/data/lund2013 here: pass --shared")
    for fmt, pattern in write_all(args.out, args.shared).items():
        print(f"{fmt}: {pattern}")


if __name__ == "__main__":
    main()
