"""Running a benchmark script as a user would, and reading the table it prints."""

from __future__ import annotations

import subprocess
import sys

from .snakemake import REPO


def table_rows(stdout: str, first_header: str) -> list[dict[str, str]]:
    """The markdown table of ``stdout`` whose first column is ``first_header``, as dicts."""
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    start = next(i for i, line in enumerate(lines) if line.split("|")[1].strip() == first_header)
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells == header or len(cells) != len(header):
            break
        rows.append(dict(zip(header, cells)))
    return rows


def run(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
