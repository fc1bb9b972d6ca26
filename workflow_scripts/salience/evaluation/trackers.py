"""Eye-tracker exports in, as they are written: delimited text (CSV/TSV), EyeLink ASC, Tobii Pro Lab.

Every reader gives one :class:`Recording`: the samples (time, x, y; NaN
where the sample was lost), the tracker's own fixation events where the
file has them, its messages / events (for the sync), and what the file says
about the screen. Times stay on the tracker's clock and in the file's unit
(``Recording.unit``): the video's timeline is made later, by subtracting
the sync time in that unit first (exact for integer clocks however large)
and only then converting to seconds (``Recording.seconds``).

Formats (``detect_format``: by extension, then by the header):

* ``csv``: any delimited text. Separator (``,`` ``;`` tab) and decimal
  comma detected from the header and the cells (or set); BOM and CRLF
  accepted; an empty cell, ``.``, ``nan``, ``NA``, ``N/A``, ``null``,
  ``-`` and EyeLink's ``-32768`` are lost samples (add the tracker's own
  codes with ``missing``). Columns by role: time, x, y, participant, event
  (renamed with ``columns``); a ``frame`` column (video frame index) may
  replace ``time``; a ``duration`` column is accepted and ignored.
* ``eyelink``: the ASC text ``edf2asc`` writes. Sample lines (time in ms,
  then x, y, pupil per recorded eye, ``.`` when lost), ``MSG time [offset]
  text`` (with an offset the message refers to ``time - offset``),
  ``EFIX``/``ESACC``/``EBLINK`` events, ``SAMPLES GAZE LEFT|RIGHT|LEFT
  RIGHT RATE r`` for the eyes, ``DISPLAY_COORDS`` (or ``GAZE_COORDS``) for
  the screen. Binocular files: ``eye: left|right`` picks one eye; ``auto``
  averages both eyes where both were tracked, else takes the one that was
  (as Tobii's gaze point does), and uses the left eye's fixation events.
* ``tobii``: a Tobii Pro Lab data export (TSV). Column names are matched
  without their unit suffix (``Recording timestamp [μs]``, ``Gaze point X
  [DACS px]``, ``Presented Media position X (DACSpx)`` ...). The
  timestamp's unit comes from its header (ms without one). Rows of other
  sensors, and event rows, are not samples. Fixations: runs of ``Eye
  movement type`` = Fixation with one ``Eye movement type index``, at
  ``Fixation point X/Y``. ``Event`` / ``Event value`` are the messages;
  ``Presented Media position X/Y`` and ``width/height`` say where the video
  was on the screen, ``Recording resolution width/height`` the screen.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..tables import TableError

log = logging.getLogger(__name__)

FORMATS = ("csv", "eyelink", "tobii")
SECONDS_PER = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000}
# Cells that mean "no value" in every format (compared lower-case, stripped).
# -32768 is EyeLink's MISSING_DATA, which some converters write out.
MISSING = frozenset({"", ".", "nan", "na", "n/a", "null", "none", "-", "-32768"})
EYES = ("auto", "left", "right")


class TrackerFileError(TableError):
    """An eye-tracking file cannot be used; the message names file, line (and column) and the fix."""


# --------------------------------------------------------------------------- the result


@dataclass
class Fixations:
    """Fixation events: ``start``/``end`` are the times of their first and last sample (file unit)."""

    start: np.ndarray
    end: np.ndarray
    x: np.ndarray
    y: np.ndarray
    line: np.ndarray  # file line of each event (or of its first sample)
    participant: np.ndarray | None = None  # (n,) str, where the file names participants

    def __len__(self) -> int:
        return len(self.start)

    def take(self, mask) -> "Fixations":
        return Fixations(self.start[mask], self.end[mask], self.x[mask], self.y[mask], self.line[mask],
                         None if self.participant is None else self.participant[mask])


@dataclass
class Message:
    time: float  # file unit
    text: str
    line: int
    participant: str | None = None  # where the file says whose recording it belongs to


@dataclass
class Recording:
    """One eye-tracking file, on the tracker's clock."""

    path: str
    format: str  # csv | eyelink | tobii
    unit: str  # s | ms | us: the unit of every time here
    time: np.ndarray | None  # (N,) float64 sample times; None where the file has frames instead
    x: np.ndarray  # (N,) float64, NaN where the sample was lost
    y: np.ndarray
    line: np.ndarray  # (N,) int64: the file line of each sample
    columns: dict  # role -> the file's name for it ("time", "x", "y", ...), for messages
    participant: np.ndarray | None = None  # (N,) str, where the file has a participant column
    frame: np.ndarray | None = None  # (N,) float64 video frame indices (csv with a frame column)
    fixations: Fixations | None = None  # the tracker's own fixation events
    messages: list = field(default_factory=list)  # [Message], in file order
    screen: tuple | None = None  # (width, height) pixels, where the file says
    media_rect: tuple | None = None  # (x, y, width, height) of the video on the screen (Tobii)
    coordinates: str | None = None  # "screen" | "video" where the file says which (Tobii's DACS / MCS)
    rate: float | None = None  # samples per second, where the file says
    eye: str | None = None  # the eye(s) the samples are of (eyelink)

    def __len__(self) -> int:
        return len(self.x)

    def seconds(self, times, origin: float = 0.0) -> np.ndarray:
        """``times`` (file unit) minus ``origin`` (file unit), in seconds; the subtraction comes first."""
        return (np.asarray(times, dtype=np.float64) - origin) * SECONDS_PER[self.unit]

    def where(self, index: int, role: str | None = None) -> str:
        """``path, line N[, column 'c']`` of sample ``index``."""
        text = f"{self.path}, line {int(self.line[index])}"
        if role and role in self.columns:
            text += f", column '{self.columns[role]}'"
        return text


# --------------------------------------------------------------------------- format detection


def detect_format(path) -> str:
    """``eyelink`` for .asc, ``tobii`` for a text file whose header has Tobii Pro Lab's columns, else ``csv``."""
    path = Path(path)
    if path.suffix.lower() == ".asc":
        return "eyelink"
    header = _first_line(path)
    if header.lstrip().startswith("**") or re.match(r"\s*(MSG|START|SAMPLES|EVENTS)\s", header):
        return "eyelink"  # an ASC under another name
    names = {_bare_name(name) for name in _split_header(header)}
    if "recording timestamp" in names and ("gaze point x" in names or "event" in names):
        return "tobii"
    return "csv"


def read_recording(path, fmt: str = "auto", *, columns: dict | None = None, time_unit: str = "s",
                   separator: str | None = None, decimal: str | None = None, missing=(),
                   eye: str = "auto") -> Recording:
    """Read an eye-tracking file (``fmt``: auto | csv | eyelink | tobii); TrackerFileError names file, line, column."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TrackerFileError(f"{path}: no such file; check the gaze files pattern in config.yaml")
    detected = detect_format(path) if fmt == "auto" else fmt
    if detected not in FORMATS:
        raise TrackerFileError(f"{path}: unknown gaze format {fmt!r}; use one of auto, {', '.join(FORMATS)}")
    if eye not in EYES:
        raise TrackerFileError(f"{path}: eye {eye!r} is not one of {', '.join(EYES)}")
    missing_codes = MISSING | {str(code).strip().lower() for code in missing}
    if detected == "eyelink":
        recording = read_eyelink(path, eye=eye)
    elif detected == "tobii":
        recording = read_tobii(path, separator=separator, decimal=decimal, missing=missing_codes)
    else:
        recording = read_csv(path, columns=columns, time_unit=time_unit, separator=separator,
                             decimal=decimal, missing=missing_codes)
    log.info("%s: read as %s%s: %d samples, %s fixation events, %d messages", path, detected,
             " (detected)" if fmt == "auto" else "", len(recording),
             len(recording.fixations) if recording.fixations is not None else "no", len(recording.messages))
    return recording


# --------------------------------------------------------------------------- delimited text


@dataclass
class _Delimited:
    """The cells of a delimited text file, by column, with their file lines."""

    path: str
    names: list  # header names, stripped
    rows: list  # list of lists of cells (stripped)
    lines: list  # file line of each row
    separator: str
    decimal: str

    def index(self, name) -> int | None:
        try:
            return self.names.index(name)
        except ValueError:
            return None

    def cells(self, position: int) -> list:
        return [row[position] if position < len(row) else "" for row in self.rows]


def _first_line(path) -> str:
    with open(path, "rb") as handle:
        raw = handle.readline(1 << 20)
    return _decode(raw, path).lstrip("\ufeff").rstrip("\r\n")


def _decode(raw: bytes, path) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # Windows exports (µ as 0xB5)


def _split_header(header: str) -> list:
    separator = _sniff_separator(header)
    return next(csv.reader([header], delimiter=separator))


def _sniff_separator(header: str) -> str:
    """Tab if the header has one, else semicolon if it has one, else comma."""
    for candidate in ("\t", ";"):
        if candidate in header:
            return candidate
    return ","


_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+(?:[eE][-+]?\d+)?$")


def _read_delimited(path, separator=None, decimal=None, numeric_positions=None) -> _Delimited:
    with open(path, "rb") as handle:
        text = _decode(handle.read(), path)
    text = text.lstrip("\ufeff")
    lines = io.StringIO(text, newline="")
    header_line = lines.readline().rstrip("\r\n")
    if not header_line.strip():
        raise TrackerFileError(f"{path}: empty, or its first line is blank; the first line must name the columns")
    separator = separator or _sniff_separator(header_line)
    names = [name.strip() for name in next(csv.reader([header_line], delimiter=separator))]
    reader = csv.reader(lines, delimiter=separator)
    rows, numbers = [], []
    for offset, row in enumerate(reader):
        if not row or all(not cell.strip() for cell in row):
            continue
        rows.append([cell.strip() for cell in row])
        numbers.append(reader.line_num + 1)
    if decimal is None:
        decimal = "."
        if separator != ",":
            positions = numeric_positions if numeric_positions is not None else range(len(names))
            for row in rows[:2000]:
                if any(p < len(row) and _DECIMAL_COMMA.match(row[p]) for p in positions):
                    decimal = ","
                    break
    elif decimal == "," and separator == ",":
        raise TrackerFileError(f"{path}: decimal comma with comma-separated cells cannot be read; "
                               "set separator to ';' or a tab")
    return _Delimited(os.fspath(path), names, rows, numbers, separator, decimal)


def _numbers(table: _Delimited, position: int, name: str, missing, *, required: bool = False) -> np.ndarray:
    """The column at ``position`` as float64; missing codes become NaN (an error where ``required``)."""
    out = np.empty(len(table.rows), dtype=np.float64)
    comma = table.decimal == ","
    for i, row in enumerate(table.rows):
        cell = row[position] if position < len(row) else ""
        if cell.lower() in missing:
            if required:
                raise TrackerFileError(f"{table.path}, line {table.lines[i]}, column '{name}': "
                                       f"{'empty' if not cell else repr(cell)}; a number is needed")
            out[i] = math.nan
            continue
        try:
            out[i] = float(cell.replace(",", ".") if comma else cell)
        except ValueError:
            hint = ""
            if not comma and _DECIMAL_COMMA.match(cell):
                hint = " (a decimal comma: set decimal: ',' and a ';' or tab separator)"
            raise TrackerFileError(f"{table.path}, line {table.lines[i]}, column '{name}': "
                                   f"{cell!r} is not a number{hint}") from None
    return out


CSV_ROLES = ("time", "x", "y", "participant", "event", "frame")


def read_csv(path, *, columns: dict | None = None, time_unit: str = "s", separator=None, decimal=None,
             missing=MISSING) -> Recording:
    """A delimited file with one row per sample (or per fixation), columns named by role."""
    path = os.fspath(path)
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(CSV_ROLES) - {"duration"})
    if unknown:
        raise TrackerFileError(f"config 'gaze: columns': unknown role {unknown[0]!r}; the roles are "
                               f"{', '.join(CSV_ROLES)}")
    if time_unit not in SECONDS_PER:
        raise TrackerFileError(f"config 'gaze: time_unit': {time_unit!r} is not one of s, ms, us")
    names = {role: str(columns.get(role, role)) for role in CSV_ROLES}
    header = [name.strip() for name in _split_header(_first_line(path))] if separator is None else None
    numeric = [header.index(names[r]) for r in ("time", "x", "y", "frame")
               if header and names[r] in header]
    table = _read_delimited(path, separator, decimal, numeric)
    position = {role: table.index(names[role]) for role in CSV_ROLES}
    missing_roles = [names[r] for r in ("x", "y") if position[r] is None]
    if position["time"] is None and position["frame"] is None:
        missing_roles.append(f"{names['time']!r} or {names['frame']!r}")
    if missing_roles:
        shown = table.separator.join(table.names) if len(table.names) < 30 else \
            table.separator.join(table.names[:30]) + " ..."
        raise TrackerFileError(
            f"{path}, line 1: no column {', '.join(repr(m) if not m.startswith(chr(39)) else m for m in missing_roles)} "
            f"(its header: {shown!r}); name the columns with gaze: columns: {{time: ..., x: ..., y: ...}}")
    if position["time"] is not None and position["frame"] is not None:
        raise TrackerFileError(
            f"{path}, line 1, columns '{names['time']}' and '{names['frame']}': both a time and a frame "
            "column; they could disagree. Keep one of them (or map the other away with gaze: columns)")
    used = {role: names[role] for role in CSV_ROLES if position[role] is not None}
    x = _numbers(table, position["x"], names["x"], missing)
    y = _numbers(table, position["y"], names["y"], missing)
    time = frame = None
    if position["time"] is not None:
        time = _numbers(table, position["time"], names["time"], MISSING, required=True)
    else:
        frame = _numbers(table, position["frame"], names["frame"], MISSING, required=True)
        bad = np.flatnonzero(frame != np.floor(frame)) if len(frame) else []
        for i in bad[:1]:
            raise TrackerFileError(f"{path}, line {table.lines[i]}, column '{names['frame']}': {frame[i]:g} is "
                                   "not a frame index (a whole number from 0)")
    participant = None
    if position["participant"] is not None:
        participant = np.asarray(table.cells(position["participant"]), dtype=object)
    messages = []
    samples = np.ones(len(table.rows), dtype=bool)
    if position["event"] is not None:
        events = table.cells(position["event"])
        for i, text in enumerate(events):
            if text:
                messages.append(Message(float(time[i]) if time is not None else float(frame[i]), text,
                                        table.lines[i], None if participant is None else participant[i]))
                # a row that only carries an event (no gaze cells) is not a lost sample
                samples[i] = not (math.isnan(x[i]) and math.isnan(y[i]))
    keep = np.flatnonzero(samples)
    return Recording(
        path=path, format="csv", unit=time_unit,
        time=None if time is None else time[keep], x=x[keep], y=y[keep],
        line=np.asarray(table.lines, dtype=np.int64)[keep], columns=used,
        participant=None if participant is None else participant[keep],
        frame=None if frame is None else frame[keep], messages=messages,
    )


# --------------------------------------------------------------------------- Tobii Pro Lab


def _bare_name(name: str) -> str:
    """A Tobii column name without its unit suffix: 'Gaze point X [DACS px]' -> 'gaze point x'."""
    bare = re.sub(r"\s*[\[(][^\])]*[\])]\s*$", "", name.strip().lstrip("\ufeff"))
    return re.sub(r"\s+", " ", bare).lower()


def _suffix(name: str) -> str:
    match = re.search(r"[\[(]([^\])]*)[\])]\s*$", name)
    return match.group(1).strip() if match else ""


def _tobii_unit(name: str) -> str:
    suffix = _suffix(name).replace("μ", "u").replace("µ", "u").lower()
    if not suffix:
        return "ms"  # Pro Lab's exports without units give milliseconds
    if suffix in SECONDS_PER:
        return suffix
    raise TrackerFileError(f"column '{name}': unknown time unit {suffix!r} (expected ms or μs)")


def read_tobii(path, *, separator=None, decimal=None, missing=MISSING) -> Recording:
    """A Tobii Pro Lab data export (one recording or several participants)."""
    path = os.fspath(path)
    header = _split_header(_first_line(path)) if separator is None else None
    bare_header = [_bare_name(n) for n in header] if header else []
    wanted_numeric = ("recording timestamp", "gaze point x", "gaze point y", "fixation point x",
                      "fixation point y")
    numeric_positions = [bare_header.index(n) for n in wanted_numeric if n in bare_header]
    table = _read_delimited(path, separator, decimal, numeric_positions)
    bare = [_bare_name(n) for n in table.names]

    def col(name):
        return bare.index(name) if name in bare else None

    def need(name):
        position = col(name)
        if position is None:
            raise TrackerFileError(f"{path}, line 1: a Tobii export needs the column {name!r} (with any unit "
                                   f"suffix); its header has {', '.join(repr(n) for n in table.names[:40])}")
        return position

    t_col = need("recording timestamp")
    unit = _tobii_unit(table.names[t_col])
    time = _numbers(table, t_col, table.names[t_col], MISSING, required=True)
    x_col, y_col = need("gaze point x"), need("gaze point y")
    x = _numbers(table, x_col, table.names[x_col], missing)
    y = _numbers(table, y_col, table.names[y_col], missing)
    lines = np.asarray(table.lines, dtype=np.int64)

    sensor_col, event_col, value_col = col("sensor"), col("event"), col("event value")
    events = table.cells(event_col) if event_col is not None else [""] * len(time)
    values = table.cells(value_col) if value_col is not None else [""] * len(time)
    if sensor_col is not None:
        is_sample = np.array([s.lower().replace(" ", "") == "eyetracker" for s in table.cells(sensor_col)])
    else:
        is_sample = np.array([not e for e in events], dtype=bool)
    participant = None
    p_col = col("participant name")
    if p_col is not None:
        participant = np.asarray(table.cells(p_col), dtype=object)
    messages = [Message(float(time[i]), " ".join(p for p in (events[i], values[i]) if p), int(lines[i]),
                        None if participant is None else participant[i])
                for i in range(len(time)) if events[i]]

    fixations = None
    type_col, index_col = col("eye movement type"), col("eye movement type index")
    fx_col, fy_col = col("fixation point x"), col("fixation point y")
    if type_col is not None and fx_col is not None and fy_col is not None:
        kinds = table.cells(type_col)
        indices = table.cells(index_col) if index_col is not None else [""] * len(time)
        fx = _numbers(table, fx_col, table.names[fx_col], missing)
        fy = _numbers(table, fy_col, table.names[fy_col], missing)
        fixations = _tobii_fixations(time, kinds, indices, fx, fy, lines, is_sample, participant)

    media_rect = None
    rect_cols = [col(n) for n in ("presented media position x", "presented media position y",
                                  "presented media width", "presented media height")]
    if all(c is not None for c in rect_cols):
        media_rect = _constant_rect(table, rect_cols, missing)
    screen = None
    screen_cols = [col("recording resolution width"), col("recording resolution height")]
    if all(c is not None for c in screen_cols):
        screen = _constant_rect(table, screen_cols, missing)

    suffix = _suffix(table.names[x_col]).upper().replace(" ", "")
    coordinates = "screen" if suffix.startswith("DACS") else "video" if suffix.startswith("MCS") else None
    keep = np.flatnonzero(is_sample)
    return Recording(
        path=path, format="tobii", unit=unit, time=time[keep], x=x[keep], y=y[keep], line=lines[keep],
        columns={"time": table.names[t_col], "x": table.names[x_col], "y": table.names[y_col],
                 **({"participant": table.names[p_col]} if p_col is not None else {})},
        participant=None if participant is None else participant[keep], fixations=fixations,
        messages=messages, screen=screen, media_rect=media_rect,
        coordinates=coordinates or ("screen" if media_rect is not None else None),
    )


def _tobii_fixations(time, kinds, indices, fx, fy, lines, is_sample, participant) -> Fixations:
    """Runs of samples with Eye movement type Fixation and one index: first and last sample time."""
    start, end, xs, ys, at, who = [], [], [], [], [], []
    current = None
    for i in np.flatnonzero(is_sample):
        key = (indices[i], None if participant is None else participant[i])
        if kinds[i].lower() != "fixation":
            current = None
            continue
        if current is not None and current == key:
            end[-1] = time[i]
            if math.isnan(xs[-1]):
                xs[-1], ys[-1] = fx[i], fy[i]
            continue
        current = key
        start.append(time[i])
        end.append(time[i])
        xs.append(fx[i])
        ys.append(fy[i])
        at.append(lines[i])
        who.append(key[1])
    return Fixations(np.asarray(start, np.float64), np.asarray(end, np.float64), np.asarray(xs, np.float64),
                     np.asarray(ys, np.float64), np.asarray(at, np.int64),
                     None if participant is None else np.asarray(who, dtype=object))


def _constant_rect(table: _Delimited, positions, missing) -> tuple | None:
    """The value of columns that hold one value through the file (e.g. the media's place)."""
    values = []
    for position in positions:
        column = _numbers(table, position, table.names[position], missing)
        given = column[~np.isnan(column)]
        if not len(given):
            return None
        distinct = np.unique(given)
        if len(distinct) > 1:
            row = int(np.flatnonzero(~np.isnan(column) & (column != given[0]))[0])
            raise TrackerFileError(
                f"{table.path}, line {table.lines[row]}, column '{table.names[position]}': "
                f"{column[row]:g} differs from {given[0]:g} above; the file holds more than one media "
                "placement: export one media per file (Pro Lab: one time of interest per video)")
        values.append(float(distinct[0]))
    return tuple(values)


# --------------------------------------------------------------------------- EyeLink ASC

_EVENT_WORDS = {"SFIX", "EFIX", "SSACC", "ESACC", "SBLINK", "EBLINK"}


def _asc_number(token: str) -> float:
    return math.nan if token == "." else float(token)


def read_eyelink(path, *, eye: str = "auto") -> Recording:
    """An EyeLink ASC file: samples, MSG lines, fixation events, the eyes and the screen."""
    path = os.fspath(path)
    with open(path, "rb") as handle:
        text = _decode(handle.read(), path)
    times, lx, ly, rx, ry, sample_lines = [], [], [], [], [], []
    fixations = {"L": [], "R": []}
    messages = []
    eyes = None
    rate = None
    screen = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        head = line[0]
        if head.isdigit():
            tokens = line.split()
            if eyes is None:
                eyes = _eyes_from_sample(tokens)
            try:
                times.append(float(tokens[0]))
                if eyes == "LR":
                    lx.append(_asc_number(tokens[1]))
                    ly.append(_asc_number(tokens[2]))
                    rx.append(_asc_number(tokens[4]))
                    ry.append(_asc_number(tokens[5]))
                else:
                    target = (lx, ly) if eyes == "L" else (rx, ry)
                    target[0].append(_asc_number(tokens[1]))
                    target[1].append(_asc_number(tokens[2]))
            except (ValueError, IndexError):
                raise TrackerFileError(f"{path}, line {number}: {line[:60]!r} is not an EyeLink sample "
                                       "(time x y pupil ...)") from None
            sample_lines.append(number)
            continue
        word, _, rest = line.replace("\t", " ").partition(" ")
        if word == "MSG":
            messages.append(_asc_message(rest, path, number))
            message = messages[-1].text
            if message.startswith(("DISPLAY_COORDS", "GAZE_COORDS")) and (screen is None or
                                                                           message.startswith("DISPLAY")):
                screen = _asc_screen(message, path, number)
        elif word == "EFIX":
            tokens = rest.split()
            try:
                side = tokens[0]
                start, end, x, y = float(tokens[1]), float(tokens[2]), _asc_number(tokens[4]), \
                    _asc_number(tokens[5])
            except (ValueError, IndexError):
                raise TrackerFileError(f"{path}, line {number}: {line[:60]!r} is not an EFIX event "
                                       "(EFIX eye start end duration x y pupil)") from None
            fixations.setdefault(side, []).append((start, end, x, y, number))
        elif word == "SAMPLES":
            tokens = rest.split()
            recorded = "".join(t[0] for t in tokens if t in ("LEFT", "RIGHT")) or None
            if recorded:
                if eyes is not None and recorded != eyes and times:
                    raise TrackerFileError(f"{path}, line {number}: the samples change eyes ({eyes} to "
                                           f"{recorded}) within the file; export one block per file")
                eyes = recorded
            if "RATE" in tokens:
                try:
                    rate = float(tokens[tokens.index("RATE") + 1])
                except (ValueError, IndexError):
                    pass
    if not times:
        raise TrackerFileError(f"{path}: no sample lines; export samples with edf2asc (not -e, events only)")
    eyes = eyes or "L"
    lx, ly, rx, ry = (np.asarray(v, dtype=np.float64) for v in (lx, ly, rx, ry))
    if eyes == "LR":
        if eye == "left":
            x, y = lx, ly
        elif eye == "right":
            x, y = rx, ry
        else:
            x, y = _average_eyes(lx, ly, rx, ry)
    else:
        have = "left" if eyes == "L" else "right"
        if eye not in ("auto", have):
            raise TrackerFileError(f"{path}: eye: {eye} but the file has the {have} eye only")
        x, y = (lx, ly) if eyes == "L" else (rx, ry)
    side = {"left": "L", "right": "R"}.get(eye) or ("L" if "L" in eyes else "R")
    chosen = fixations.get(side) or []
    fix = Fixations(*(np.asarray(v, dtype=np.float64) for v in zip(*chosen)), ) if chosen else None
    if fix is not None:
        fix.line = fix.line.astype(np.int64)
    elif any(fixations.values()) or "EFIX" in text:
        fix = _empty_fixations()
    return Recording(path=path, format="eyelink", unit="ms", time=np.asarray(times, dtype=np.float64), x=x, y=y,
                     line=np.asarray(sample_lines, dtype=np.int64),
                     columns={"time": "sample time", "x": "gaze x", "y": "gaze y"}, fixations=fix,
                     messages=messages, screen=screen, rate=rate, eye=eyes, coordinates="screen")


def _empty_fixations() -> Fixations:
    empty = np.empty(0, dtype=np.float64)
    return Fixations(empty, empty, empty, empty, np.empty(0, dtype=np.int64))


def _eyes_from_sample(tokens) -> str:
    """A sample line without a SAMPLES line before it: 7+ numeric fields before the flags are two eyes."""
    numeric = 0
    for token in tokens[1:]:
        if token == "." or re.match(r"^-?\d+(\.\d*)?$", token):
            numeric += 1
        else:
            break
    return "LR" if numeric >= 6 else "L"


def _average_eyes(lx, ly, rx, ry):
    """Both eyes' mean where both were tracked, else the eye that was."""
    with np.errstate(invalid="ignore"):
        x = np.where(np.isnan(lx), rx, np.where(np.isnan(rx), lx, (lx + rx) / 2))
        y = np.where(np.isnan(ly), ry, np.where(np.isnan(ry), ly, (ly + ry) / 2))
    return x, y


def _asc_message(rest: str, path, number: int) -> Message:
    """``MSG time [offset] text``: with an offset, the message refers to ``time - offset``."""
    parts = rest.strip().split(None, 2)
    try:
        time = float(parts[0])
    except (ValueError, IndexError):
        raise TrackerFileError(f"{path}, line {number}: a MSG line needs a time: MSG <time> <text>") from None
    text = rest.strip()[len(parts[0]):].strip()
    if len(parts) >= 3 and re.match(r"^-?\d+$", parts[1]):
        time -= float(parts[1])
        text = parts[2].strip()
    return Message(time, text, number)


def _asc_screen(message: str, path, number: int) -> tuple:
    try:
        left, top, right, bottom = (float(v) for v in message.split()[1:5])
    except ValueError:
        raise TrackerFileError(f"{path}, line {number}: {message!r}: expected four numbers "
                               "(left top right bottom)") from None
    return (int(round(right - left + 1)), int(round(bottom - top + 1)))


# --------------------------------------------------------------------------- sync


def sync_time(recording: Recording, sync, video: str | None = None) -> float:
    """The recording time (file unit) of the video's first frame.

    ``sync``: a number of seconds on the tracker's clock, or the text of the
    message / event that marks it: a message matches when its text is
    ``sync`` or starts with ``sync`` and a space ({video} in ``sync`` is the
    video's id). Exactly one message must match.
    """
    if isinstance(sync, bool) or sync is None:
        raise TrackerFileError(f"{recording.path}: sync {sync!r} must be a number of seconds or a message text")
    if isinstance(sync, (int, float)):
        if not math.isfinite(sync):
            raise TrackerFileError(f"config 'gaze: sync': {sync!r} is not a time")
        return float(sync) * UNITS_PER_SECOND[recording.unit]
    text = str(sync).strip()
    if video is not None:
        text = text.replace("{video}", video)
    matches = [m for m in recording.messages if m.text == text or m.text.startswith(text + " ")]
    if not matches:
        seen = []
        for message in recording.messages:
            if message.text not in seen:
                seen.append(message.text)
        listing = "; ".join(repr(s[:50]) for s in seen[:8]) + (" ..." if len(seen) > 8 else "")
        raise TrackerFileError(
            f"{recording.path}: no message or event {text!r} to sync the video on "
            f"({'its messages: ' + listing if seen else 'the file has no messages'}); set gaze: sync to the "
            "text that marks the video's first frame, or to its recording time in seconds")
    if len(matches) > 1:
        where = ", ".join(f"line {m.line}" for m in matches[:5])
        raise TrackerFileError(
            f"{recording.path}, {where}: the message {text!r} occurs {len(matches)} times; the video's first "
            "frame must be marked once per file (export one trial per file, or sync on a text that "
            "includes the video's name, e.g. 'VIDEO_START {video}')")
    return matches[0].time


# --------------------------------------------------------------------------- participants


def by_participant(recording: Recording, name: str) -> dict:
    """Participant -> their part of ``recording``: by its participant column, else all of it as ``name``.

    Messages and fixation events go with the participant the file gives them
    (messages without one belong to everybody).
    """
    if recording.participant is None:
        return {name: recording}
    names = list(dict.fromkeys(recording.participant.tolist()))
    blank = [i for i, who in enumerate(recording.participant.tolist()) if not who]
    if blank:
        raise TrackerFileError(f"{recording.where(blank[0], 'participant')}: empty; every sample needs its "
                               "participant (or leave the participant column out: one participant per file)")
    parts = {}
    for who in names:
        mask = recording.participant == who
        fixations = recording.fixations
        if fixations is not None and fixations.participant is not None:
            fixations = fixations.take(fixations.participant == who)
        parts[str(who)] = Recording(
            path=recording.path, format=recording.format, unit=recording.unit,
            time=None if recording.time is None else recording.time[mask], x=recording.x[mask],
            y=recording.y[mask], line=recording.line[mask], columns=recording.columns,
            participant=None, frame=None if recording.frame is None else recording.frame[mask],
            fixations=fixations,
            messages=[m for m in recording.messages if m.participant in (None, who)],
            screen=recording.screen, media_rect=recording.media_rect, coordinates=recording.coordinates,
            rate=recording.rate, eye=recording.eye)
    return parts
