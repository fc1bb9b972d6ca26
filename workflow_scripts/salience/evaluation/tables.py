"""Small CSV tables of numbers (gaze samples, areas of interest), read strictly.

A bad file is refused with the file, the line and the column of the first
problem, so that it can be fixed in a text editor: a missing column, or a
cell that is not a number. Empty cells of optional columns mean "not given"
(NaN); empty cells of required columns are errors.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

import numpy as np

from ..errors import SalienceError


class TableError(SalienceError):
    """A CSV table cannot be used; the message names file, line and column."""


@dataclass
class Table:
    """Columns of a CSV file: numbers as float64 arrays, text columns as lists."""

    path: str
    columns: dict  # name -> np.ndarray (numbers) or list[str] (text)
    lines: np.ndarray  # the file line of each row (1 is the header)

    def __len__(self) -> int:
        return len(self.lines)

    def has(self, name: str) -> bool:
        return name in self.columns

    def where(self, row: int, column: str) -> str:
        """``path, line N, column 'c'``: where a value of this table came from."""
        return f"{self.path}, line {int(self.lines[row])}, column '{column}'"


def read_table(path, *, required: tuple[str, ...], optional: tuple[str, ...] = (),
               one_of: tuple[str, ...] = (), text: tuple[str, ...] = (), what: str = "table") -> Table:
    """Read the numeric columns ``required`` (+ those of ``optional`` present) of ``path``.

    ``one_of``: at least one of these columns must be present (all present
    ones are read, as optional numbers). ``text`` columns are kept as strings.
    Other columns are ignored. Column names are matched after stripping
    spaces; cells are stripped too. Raises TableError naming file, line,
    column.
    """
    path = os.fspath(path)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # -sig: spreadsheets write a BOM
    except OSError as error:
        raise TableError(f"{path}: cannot read the {what} CSV ({error.strerror}); check the path in config.yaml") from error
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except (UnicodeDecodeError, csv.Error):
            raise TableError(f"{path}: not a {what} CSV (not UTF-8 text); check the path in config.yaml") from None
        if header is None:
            raise TableError(f"{path}: the {what} CSV is empty; it needs a header line")
        names = [name.strip() for name in header]
        index = {name: position for position, name in reversed(list(enumerate(names)))}
        missing = [name for name in required if name not in index]
        if one_of and not any(name in index for name in one_of):
            missing.append(" or ".join(repr(name) for name in one_of))
        if missing:
            raise TableError(
                f"{path}, line 1: the {what} CSV has no column {', '.join(missing)} "
                f"({describe_header(names)}); columns needed: {', '.join(required + one_of)}"
            )
        numeric = [n for n in (*required, *optional, *one_of) if n in index]
        strings = [n for n in text if n in index]
        values: dict[str, list] = {name: [] for name in (*numeric, *strings)}
        lines = []
        for row in _rows(reader, path, what):
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue  # blank lines (a trailing newline) carry nothing
            for name in numeric:
                position = index[name]
                cell = row[position].strip() if position < len(row) else ""
                if not cell:
                    if name in required:
                        raise TableError(f"{path}, line {line}, column '{name}': empty; a number is needed")
                    values[name].append(math.nan)
                    continue
                try:
                    values[name].append(float(cell))
                except ValueError:
                    raise TableError(
                        f"{path}, line {line}, column '{name}': {cell!r} is not a number"
                    ) from None
            for name in strings:
                position = index[name]
                values[name].append(row[position].strip() if position < len(row) else "")
            lines.append(line)
    columns = {name: np.asarray(values[name], dtype=np.float64) for name in numeric}
    columns.update({name: values[name] for name in strings})
    return Table(path, columns, np.asarray(lines, dtype=np.int64))


def describe_header(names: list[str], separator: str = ",") -> str:
    """The header, quoted only where it looks like column names: a file given by mistake
    (``/etc/shadow``, a key) is never echoed."""
    if len(names) >= 2 and all(len(n) <= 40 and n.isprintable() for n in names):
        return f"its header: {separator.join(names)}"
    kind = {"\t": "tab", ";": "semicolon"}.get(separator, "comma")
    return f"its first line is not a header of {kind}-separated column names: is it the right file?"


def _rows(reader, path: str, what: str):
    try:
        yield from reader
    except (UnicodeDecodeError, csv.Error) as error:
        raise TableError(f"{path}, line {reader.line_num + 1}: not a {what} CSV line ({type(error).__name__}); "
                         "check the path in config.yaml") from None
