"""Outputs that appear whole or not at all.

Every file and directory the workflow writes is filled under a hidden
temporary name beside its target and renamed into place when complete, so a
killed job never leaves an output that looks finished (a rename within one
directory is atomic).
"""

from __future__ import annotations

import os
import secrets
import shutil


def unused_sibling(directory: str, name: str, suffix: str) -> str:
    """A free hidden name ``.<name>.<random><suffix>`` in ``directory``.

    Not ``tempfile.mkstemp``/``mkdtemp``: those create mode 0600/0700, and the
    renamed outputs must get the usual permissions (umask), as ffmpeg and
    ``os.mkdir`` give them.
    """
    while True:
        candidate = os.path.join(directory, f".{name}.{secrets.token_hex(4)}{suffix}")
        if not os.path.lexists(candidate):
            return candidate


def write_text(path, text: str) -> None:
    """Write a small text file (JSON, a checksum record) whole or not at all."""
    parent, name = os.path.split(os.path.abspath(os.fspath(path)))
    os.makedirs(parent, exist_ok=True)
    temp = unused_sibling(parent, name, ".partial")
    try:
        with open(temp, "w") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise


class StagedDir:
    """A directory filled under a hidden temporary name, renamed into place when complete.

    A killed job leaves at most ``.<name>.<random>.partial`` beside it, never a
    half-filled ``<name>``. An existing ``<name>`` is replaced only at commit.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        parent, name = os.path.split(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        self.temp = unused_sibling(parent, name, ".partial")
        os.mkdir(self.temp)

    def file(self, name: str) -> str:
        return os.path.join(self.temp, name)

    def __enter__(self) -> StagedDir:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            shutil.rmtree(self.temp, ignore_errors=True)
            return
        old = None
        if os.path.lexists(self.path):
            old = self.temp + ".old"
            os.rename(self.path, old)  # a rename cannot replace a non-empty directory
        os.replace(self.temp, self.path)
        if old is not None:
            shutil.rmtree(old) if os.path.isdir(old) else os.unlink(old)
