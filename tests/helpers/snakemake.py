"""The one way the tests run the real workflow: ``python -m snakemake`` on this repository's Snakefile."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


# A run of seconds: untrained weights, small chunks, every output.
TINY_RUN = {"videos": ["clip.mp4"], "weights": "untrained", "chunk_frames": 7, "batch_size": 4, "threads": 1,
            "export": {"png": True, "npy": True}}


def write_config(workdir: Path, base: dict = TINY_RUN, **overrides) -> None:
    """``workdir/config.yaml``: ``base`` with ``overrides`` (the schema gives the rest)."""
    (workdir / "config.yaml").write_text(yaml.safe_dump({**base, **overrides}))


def command(workdir: Path, *args: str) -> list[str]:
    """The command line of a Snakemake run in ``workdir`` with its ``config.yaml``."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
            "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"), *args]


def snakemake(workdir: Path, *args: str, check: bool = True, **popen) -> subprocess.CompletedProcess:
    """Run Snakemake to the end; with ``check``, a failure is an AssertionError showing its output."""
    result = subprocess.run(command(workdir, *args), capture_output=True, text=True, **popen)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def job_counts(output: str) -> dict[str, int]:
    """Rule -> number of jobs, from the job stats table Snakemake prints."""
    counts = {}
    for line in output.splitlines():
        match = re.fullmatch(r"\s*(\w+)\s+(\d+)\s*", line)
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def planned_jobs(workdir: Path, *options: str) -> dict[str, int]:
    """Rule -> number of jobs a dry run would execute."""
    return job_counts(snakemake(workdir, *options, "--dry-run", "--quiet", "rules").stdout)
