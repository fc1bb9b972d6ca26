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
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .tables import TableError, describe_header

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
    if _is_binary(path):
        if path.lower().endswith(".edf"):
            raise TrackerFileError(f"{path}: an EyeLink EDF file (binary); convert it with SR Research's edf2asc "
                                   "(samples and events) and name the .asc file in config 'gaze: files'")
        raise TrackerFileError(f"{path}: not an eye-tracking file (binary, not text): is it the right file?")
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
class _Column:
    """How to read one column: as numbers (``missing`` codes are NaN; an error where ``required``) or text."""

    name: str
    number: bool = True
    missing: frozenset = MISSING
    required: bool = False


@dataclass
class _Delimited:
    """The wanted columns of a delimited text file (numbers as float64 arrays, text as lists), with file lines."""

    path: str
    names: list  # header names, stripped
    columns: dict  # position -> np.ndarray (numbers) or list of str (text; "" where absent)
    lines: np.ndarray  # file line of each row
    separator: str
    decimal: str

    def __len__(self) -> int:
        return len(self.lines)


def _encoding(path) -> str:
    """UTF-16 or UTF-8 by their byte-order marks, UTF-8 where it decodes, else Windows-1252 (µ as 0xB5)."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for cut in range(4):  # the block may end inside a character
        try:
            head[:len(head) - cut].decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError:
            continue
    return "cp1252"


def _is_binary(path) -> bool:
    """NUL bytes in a text file that is not UTF-16: a video, an archive, a key, given by mistake."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    return b"\x00" in head and _encoding(path) != "utf-16"


def _first_line(path) -> str:
    with open(path, encoding=_encoding(path), errors="replace", newline="") as handle:
        return handle.readline(1 << 20).lstrip("\ufeff").rstrip("\r\n")


def _header(path, separator=None) -> tuple[list, str]:
    """The header's names (stripped) and the separator (given, else sniffed from the header)."""
    line = _first_line(path)
    if not line.strip():
        raise TrackerFileError(f"{path}: empty, or its first line is blank; the first line must name the columns")
    separator = separator or _sniff_separator(line)
    return [name.strip() for name in next(csv.reader([line], delimiter=separator))], separator


def _split_header(header: str) -> list:
    return next(csv.reader([header], delimiter=_sniff_separator(header)))


def _sniff_separator(header: str) -> str:
    """Tab if the header has one, else semicolon if it has one, else comma."""
    for candidate in ("\t", ";"):
        if candidate in header:
            return candidate
    return ","


_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+(?:[eE][-+]?\d+)?$")
DECIMAL_SNIFF_ROWS = 2000  # rows looked at for decimal commas


def _read_delimited(path, wanted: dict, separator=None, decimal=None) -> _Delimited:
    """The columns ``wanted`` (position -> _Column) of ``path``; numbers parsed, lost-sample codes NaN.

    pandas' C parser reads the file (10x the csv module's speed); memory is
    that of the kept columns (text as categories). Row ``i`` is file line
    ``i + 2`` (the header is line 1; blank lines count).
    """
    import pandas as pd

    path = os.fspath(path)
    names, separator = _header(path, separator)
    encoding = _encoding(path)
    if decimal == "," and separator == ",":
        raise TrackerFileError(f"{path}: decimal comma with comma-separated cells cannot be read; "
                               "set separator to ';' or a tab")
    if decimal is None:
        decimal = _sniff_decimal(path, encoding, separator, [p for p, c in wanted.items() if c.number])
    numbers = {p: c for p, c in wanted.items() if c.number}
    try:
        frame = pd.read_csv(
            path, sep=separator, decimal=decimal, header=None, names=range(len(names)), skiprows=1,
            usecols=sorted(wanted), index_col=False,
            dtype={p: "category" for p, c in wanted.items() if not c.number},
            na_values={p: sorted(_spellings(c.missing)) for p, c in numbers.items()}, keep_default_na=False,
            skip_blank_lines=False, encoding=encoding, encoding_errors="replace", engine="c")
    except (pd.errors.ParserError, ValueError) as error:
        raise TrackerFileError(f"{path}: cannot be read as {_separator_name(separator)}-separated text "
                               f"({str(error).strip().splitlines()[-1]})") from None
    lines = np.arange(2, len(frame) + 2, dtype=np.int64)
    columns = {}
    empty = np.ones(len(frame), dtype=bool)
    for position, column in wanted.items():
        series = frame[position] if position in frame.columns else pd.Series([""] * len(frame))
        if column.number:
            values = _numeric(series, column, path, lines, decimal == ",")
            empty &= np.isnan(values)
        else:
            values = _texts(series)
            empty &= values == ""
        columns[position] = values
    if empty.any():  # blank lines, or lines with none of the wanted cells: nothing to read there
        keep = ~empty
        lines = lines[keep]
        columns = {p: v[keep] for p, v in columns.items()}
    for position, column in numbers.items():
        if column.required:
            lost = np.flatnonzero(np.isnan(columns[position]))
            if len(lost):
                cell = _raw_cell(path, encoding, separator, int(lines[lost[0]]), position)
                raise TrackerFileError(f"{path}, line {lines[lost[0]]}, column '{column.name}': "
                                       f"{'empty' if not cell else repr(cell)}; a number is needed")
    return _Delimited(path, names, columns, lines, separator, decimal)


def _separator_name(separator: str) -> str:
    return {"\t": "tab", ";": "semicolon", ",": "comma"}.get(separator, repr(separator))


def _spellings(codes) -> set:
    """The texts pandas must take as lost: each code as written, upper case and capitalised."""
    return {variant for code in codes for variant in (code, code.upper(), code.capitalize())}


def _numeric(series, column: _Column, path, lines, comma: bool) -> np.ndarray:
    """A numeric column as float64; cells pandas could not read are read one by one (exact errors)."""
    if series.dtype.kind in "fiu":
        values = series.to_numpy(dtype=np.float64, copy=True)
    else:
        values = np.empty(len(series), dtype=np.float64)
        for i, cell in enumerate(series.tolist()):
            if isinstance(cell, float):
                values[i] = cell
                continue
            cell = str(cell).strip()
            try:
                values[i] = float(cell.replace(",", ".") if comma else cell)
            except ValueError:
                if cell.lower() not in column.missing:
                    hint = ""
                    if not comma and _DECIMAL_COMMA.match(cell):
                        hint = " (a decimal comma: set decimal: ',' and a ';' or tab separator)"
                    raise TrackerFileError(f"{path}, line {lines[i]}, column '{column.name}': {cell!r} is not a "
                                           f"number{hint}") from None
                values[i] = math.nan
    codes = _missing_numbers(column.missing)
    if codes:
        values[np.isin(values, list(codes))] = math.nan
    return values


def _texts(series) -> np.ndarray:
    """A category column as an object array of stripped strings (one object per distinct value)."""
    categories = np.asarray([str(c).strip() for c in series.cat.categories] + [""], dtype=object)
    return categories[series.cat.codes.to_numpy()]  # code -1 (no value) is the "" at the end


def _sniff_decimal(path, encoding, separator, positions) -> str:
    """',' where a numeric cell of the first rows is written with a decimal comma (never with ',' separators)."""
    if separator == ",":
        return "."
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        handle.readline()
        for count, row in enumerate(csv.reader(handle, delimiter=separator)):
            if any(p < len(row) and _DECIMAL_COMMA.match(row[p].strip()) for p in positions):
                return ","
            if count >= DECIMAL_SNIFF_ROWS:
                break
    return "."


def _raw_cell(path, encoding, separator, line: int, position: int) -> str:
    """The text of one cell (for an error message)."""
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        for number, text in enumerate(handle, start=1):
            if number == line:
                row = next(csv.reader([text.rstrip("\r\n")], delimiter=separator), [])
                return row[position].strip() if position < len(row) else ""
    return ""


def _missing_numbers(codes) -> frozenset:
    """The missing-sample codes that read as numbers (-32768, a tracker's 0): compared as numbers."""
    out = set()
    for code in codes:
        try:
            out.add(float(code))
        except ValueError:
            pass
    return frozenset(v for v in out if v == v)


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
    header, separator = _header(path, separator)
    position = {role: header.index(names[role]) if names[role] in header else None for role in CSV_ROLES}
    missing_roles = [repr(names[r]) for r in ("x", "y") if position[r] is None]
    if position["time"] is None and position["frame"] is None:
        missing_roles.append(f"{names['time']!r} or {names['frame']!r}")
    if missing_roles:
        raise TrackerFileError(
            f"{path}, line 1: no column {', '.join(missing_roles)} ({describe_header(header[:30], separator)}); "
            "name the columns with gaze: columns: {time: ..., x: ..., y: ...}")
    if position["time"] is not None and position["frame"] is not None:
        raise TrackerFileError(
            f"{path}, line 1, columns '{names['time']}' and '{names['frame']}': both a time and a frame "
            "column; they could disagree. Keep one of them (or map the other away with gaze: columns)")
    clock = "time" if position["time"] is not None else "frame"
    wanted = {position["x"]: _Column(names["x"], missing=missing),
              position["y"]: _Column(names["y"], missing=missing),
              position[clock]: _Column(names[clock], required=True)}
    for role in ("participant", "event"):
        if position[role] is not None:
            wanted[position[role]] = _Column(names[role], number=False)
    table = _read_delimited(path, wanted, separator, decimal)
    used = {role: names[role] for role in CSV_ROLES if position[role] is not None}
    x, y = table.columns[position["x"]], table.columns[position["y"]]
    clock_values = table.columns[position[clock]]
    if clock == "frame":
        bad = np.flatnonzero(clock_values != np.floor(clock_values))
        if len(bad):
            raise TrackerFileError(f"{path}, line {table.lines[bad[0]]}, column '{names['frame']}': "
                                   f"{clock_values[bad[0]]:g} is not a frame index (a whole number from 0)")
    participant = None
    if position["participant"] is not None:
        participant = np.asarray(table.columns[position["participant"]], dtype=object)
    messages = []
    samples = np.ones(len(table), dtype=bool)
    if position["event"] is not None:
        for i, text in enumerate(table.columns[position["event"]]):
            if text:
                messages.append(Message(float(clock_values[i]), text, int(table.lines[i]),
                                        None if participant is None else participant[i]))
                # a row that only carries an event (no gaze cells) is not a lost sample
                samples[i] = not (math.isnan(x[i]) and math.isnan(y[i]))
    keep = np.flatnonzero(samples)
    return Recording(
        path=path, format="csv", unit=time_unit,
        time=clock_values[keep] if clock == "time" else None, x=x[keep], y=y[keep],
        line=table.lines[keep], columns=used,
        participant=None if participant is None else participant[keep],
        frame=clock_values[keep] if clock == "frame" else None, messages=messages,
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


TOBII_NUMBERS = ("recording timestamp", "gaze point x", "gaze point y", "fixation point x", "fixation point y",
                 "presented media position x", "presented media position y", "presented media width",
                 "presented media height", "recording resolution width", "recording resolution height")
TOBII_TEXTS = ("sensor", "participant name", "event", "event value", "eye movement type", "eye movement type index")


def read_tobii(path, *, separator=None, decimal=None, missing=MISSING) -> Recording:
    """A Tobii Pro Lab data export (one recording or several participants)."""
    path = os.fspath(path)
    names, separator = _header(path, separator)
    bare = [_bare_name(n) for n in names]

    def col(name):
        return bare.index(name) if name in bare else None

    for needed in ("recording timestamp", "gaze point x", "gaze point y"):
        if col(needed) is None:
            raise TrackerFileError(f"{path}, line 1: a Tobii export needs the column {needed!r} (with any unit "
                                   f"suffix); {describe_header(names[:40], separator)}")
    t_col, x_col, y_col = col("recording timestamp"), col("gaze point x"), col("gaze point y")
    unit = _tobii_unit(names[t_col])
    wanted = {}
    for name in TOBII_NUMBERS:
        if col(name) is not None:
            wanted[col(name)] = _Column(names[col(name)], missing=missing, required=name == "recording timestamp")
    for name in TOBII_TEXTS:
        if col(name) is not None:
            wanted[col(name)] = _Column(names[col(name)], number=False)
    table = _read_delimited(path, wanted, separator, decimal)
    time, x, y, lines = table.columns[t_col], table.columns[x_col], table.columns[y_col], table.lines
    blank = np.full(len(table), "", dtype=object)

    def texts(name):
        return table.columns[col(name)] if col(name) is not None else blank

    events, values = texts("event"), texts("event value")
    if col("sensor") is not None:
        sensors = texts("sensor")
        trackers = [v for v in set(sensors.tolist()) if v.lower().replace(" ", "") == "eyetracker"]
        is_sample = np.isin(sensors, trackers)
    else:
        is_sample = events == ""
    participant = None
    if col("participant name") is not None:
        participant = np.asarray(texts("participant name"), dtype=object)
    messages = [Message(float(time[i]), " ".join(p for p in (events[i], values[i]) if p), int(lines[i]),
                        None if participant is None else participant[i])
                for i in np.flatnonzero(events != "").tolist()]

    fixations = None
    if all(col(n) is not None for n in ("eye movement type", "fixation point x", "fixation point y")):
        fixations = _tobii_fixations(time, texts("eye movement type"), texts("eye movement type index"),
                                     table.columns[col("fixation point x")], table.columns[col("fixation point y")],
                                     lines, is_sample, participant)
    media_rect = _constant(table, [col(n) for n in ("presented media position x", "presented media position y",
                                                    "presented media width", "presented media height")])
    screen = _constant(table, [col("recording resolution width"), col("recording resolution height")])
    suffix = _suffix(names[x_col]).upper().replace(" ", "")
    coordinates = "screen" if suffix.startswith("DACS") else "video" if suffix.startswith("MCS") else None
    keep = np.flatnonzero(is_sample)
    return Recording(
        path=path, format="tobii", unit=unit, time=time[keep], x=x[keep], y=y[keep], line=lines[keep],
        columns={"time": names[t_col], "x": names[x_col], "y": names[y_col],
                 **({"participant": names[col("participant name")]} if participant is not None else {})},
        participant=None if participant is None else participant[keep], fixations=fixations,
        messages=messages, screen=screen, media_rect=media_rect,
        coordinates=coordinates or ("screen" if media_rect is not None else None),
    )


def _tobii_fixations(time, kinds, indices, fx, fy, lines, is_sample, participant) -> Fixations:
    """Runs of samples with Eye movement type Fixation and one index: first and last sample time.

    A fixation's point is the first Fixation point X/Y given in its run.
    """
    rows = np.flatnonzero(is_sample)
    kinds = kinds[rows]
    fixation = np.isin(kinds, [v for v in set(kinds.tolist()) if v.lower() == "fixation"])
    key = indices[rows] if participant is None else indices[rows] + "\x00" + participant[rows]
    begins = fixation.copy()
    begins[1:] &= ~fixation[:-1] | (key[1:] != key[:-1])
    run = np.cumsum(begins) - 1  # run number of each fixation sample
    first = rows[begins]
    last = rows[np.flatnonzero(fixation & np.append(begins[1:] | ~fixation[1:], True))]
    x, y = np.full(len(first), np.nan), np.full(len(first), np.nan)
    given = np.flatnonzero(fixation & ~np.isnan(fx[rows]))
    with_point, first_given = np.unique(run[given], return_index=True)
    x[with_point], y[with_point] = fx[rows][given[first_given]], fy[rows][given[first_given]]
    return Fixations(time[first].astype(np.float64), time[last].astype(np.float64), x, y,
                     lines[first].astype(np.int64), None if participant is None else participant[first])


def _constant(table: _Delimited, positions) -> tuple | None:
    """The values of columns that hold one value through the file (the media's place, the screen)."""
    if any(p is None for p in positions):
        return None
    values = []
    for position in positions:
        column = table.columns[position]
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
    with open(path, encoding=_encoding(path), errors="replace") as handle:
        return _parse_eyelink(handle, path, eye)


def _parse_eyelink(handle, path: str, eye: str) -> Recording:
    times, lx, ly, rx, ry, sample_lines = [], [], [], [], [], []
    fixations = {"L": [], "R": []}
    messages = []
    eyes = None
    rate = None
    screen = None
    for number, raw in enumerate(handle, start=1):
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
    elif any(fixations.values()):
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
