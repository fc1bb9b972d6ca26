"""Outputs that appear whole or not at all, and no temporaries left behind.

Every file and directory the workflow writes is filled under a hidden
temporary name beside its target, ``.<name>.<8 hex digits><suffix>``, and
renamed into place when complete, so a killed job never leaves an output that
looks finished (a rename within one directory is atomic).

A hard kill (SIGKILL, a node lost) still leaves the temporary behind. So
whoever claims a temporary name for an output first removes the stale
temporaries of that same output, and only those no live process is writing:
each writer holds an exclusive ``flock`` on its temporary (file or
directory) while it lives, and the kernel drops the lock when the process
dies, however it dies. A temporary that can be locked is stale; one that
cannot is live and stays. On a file system without ``flock`` nothing is
removed (never a live one).
"""

from __future__ import annotations

import csv
import errno
import fcntl
import json
import math
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

# temporary path -> open descriptor holding its lock (closed when published or discarded)
_HELD: dict[str, int] = {}


def unused_sibling(directory: str, name: str, suffix: str, *, make_dir: bool = False) -> str:
    """Claim a free hidden name ``.<name>.<random><suffix>`` in ``directory``.

    The path is created (an empty file, or a directory with ``make_dir``) and
    locked by this process until ``release`` or its end; stale temporaries of
    the same ``name`` and ``suffix`` are removed first (``remove_stale``).

    Not ``tempfile.mkstemp``/``mkdtemp``: those create mode 0600/0700, and the
    renamed outputs must get the usual permissions (umask), as ffmpeg and
    ``os.mkdir`` give them.
    """
    remove_stale(directory, name, suffix)
    while True:
        candidate = os.path.join(directory, f".{name}.{secrets.token_hex(4)}{suffix}")
        if _claim(candidate, make_dir):
            return candidate


def _claim(path: str, make_dir: bool) -> bool:
    try:
        if make_dir:
            os.mkdir(path)
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        descriptor = os.open(path, os.O_RDONLY)
    except (FileExistsError, FileNotFoundError):
        return False
    try:
        # Blocking: a cleaner that locked it between creation and here is
        # removing it; then the inode check below fails and we try another name.
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    except OSError as error:
        if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            os.close(descriptor)
            raise
        # No locks here: cleaners cannot lock it either, so they leave it alone.
    try:
        same = os.stat(path).st_ino == os.fstat(descriptor).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        os.close(descriptor)
        return False
    _HELD[path] = descriptor
    return True


def release(path: str) -> None:
    """Drop the lock on a temporary (after it was renamed into place or deleted)."""
    descriptor = _HELD.pop(path, None)
    if descriptor is not None:
        os.close(descriptor)


def _temporary_pattern(name: str, suffix: str) -> re.Pattern:
    return re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{8}}{re.escape(suffix)}(\.old)?")


def remove_stale(directory: str, name: str, suffix: str) -> list[str]:
    """Remove the temporaries of output ``name`` that no live process holds; their paths."""
    return _remove_unheld(directory, _temporary_pattern(name, suffix))


def remove_stale_temporaries(directory: str) -> list[str]:
    """Remove every stale temporary (``.<name>.<random>.partial...``) in ``directory``."""
    return _remove_unheld(directory, re.compile(r"\..+\.[0-9a-f]{8}\.partial.*"))


def _remove_unheld(directory: str, pattern: re.Pattern) -> list[str]:
    """Remove the entries of ``directory`` matching ``pattern`` that no live process holds."""
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return []
    return [path for path in (os.path.join(directory, e) for e in entries if pattern.fullmatch(e))
            if path not in _HELD and _remove_if_unlocked(path)]


def _remove_if_unlocked(path: str) -> bool:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # held by a live writer, or no locks on this file system: leave it
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        return True
    finally:
        os.close(descriptor)


class CommitOnExit:
    """A context manager that commits on a clean exit and discards on an exception."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


class _Staged(CommitOnExit):
    """An output filled under a hidden temporary name beside it and renamed into place by ``commit``.

    ``discard`` (or an exception in a ``with`` block) deletes the temporary
    and leaves the output as it was. Either way the temporary's lock is
    released.
    """

    _make_dir = False

    def __init__(self, path, suffix: str):
        self.path = os.fspath(path)
        parent, name = os.path.split(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        self.temp = unused_sibling(parent, name, suffix, make_dir=self._make_dir)
        self.open = True

    def commit(self) -> None:
        if not self.open:
            return
        try:
            self._publish()
        except BaseException:
            self.discard()
            raise
        self.open = False
        release(self.temp)

    def discard(self) -> None:
        if not self.open:
            return
        self.open = False
        try:
            self._remove()
        finally:
            release(self.temp)


class StagedFile(_Staged):
    """A file filled at ``temp`` and renamed onto ``path`` when complete.

    ``keep_extension``: the temporary ends in ``path``'s extension too (for
    writers that choose a format by it: videos, figures).
    """

    def __init__(self, path, *, keep_extension: bool = False):
        extension = os.path.splitext(os.fspath(path))[1] if keep_extension else ""
        super().__init__(path, ".partial" + extension)

    def _publish(self) -> None:
        os.replace(self.temp, self.path)

    def _remove(self) -> None:
        if os.path.lexists(self.temp):
            os.unlink(self.temp)


class StagedDir(_Staged):
    """A directory filled under a hidden temporary name, renamed into place when complete.

    A killed job leaves at most ``.<name>.<random>.partial`` beside it (removed
    by the next writer of ``<name>``), never a half-filled ``<name>``. An
    existing ``<name>`` is replaced only at commit.
    """

    _make_dir = True

    def __init__(self, path):
        super().__init__(path, ".partial")

    def file(self, name: str) -> str:
        return os.path.join(self.temp, name)

    def _publish(self) -> None:
        old = None
        if os.path.lexists(self.path):
            old = self.temp + ".old"
            os.rename(self.path, old)  # a rename cannot replace a non-empty directory
        os.replace(self.temp, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True) if os.path.isdir(old) else os.unlink(old)

    def _remove(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


@contextmanager
def staged_file(path, *, keep_extension: bool = False) -> Iterator[str]:
    """A temporary path beside ``path`` to fill; renamed onto ``path`` when the block ends cleanly."""
    with StagedFile(path, keep_extension=keep_extension) as staged:
        yield staged.temp


def write_text(path, text: str) -> None:
    """Write a small text file (JSON, a checksum record) whole or not at all."""
    with staged_file(path) as temp, open(temp, "w") as handle:
        handle.write(text)


def write_json(path, data) -> None:
    """Write a JSON record (indented, keys sorted) whole or not at all."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


class StagedCSV:
    """A CSV table written row by row under a temporary name, renamed into place on success."""

    def __init__(self, path, header):
        with ExitStack() as stack:  # a failure here unwinds what was opened
            temp = stack.enter_context(staged_file(path))
            handle = stack.enter_context(open(temp, "w", newline=""))
            self.writer = csv.writer(handle, lineterminator="\n")
            self.writer.writerow(header)
            self._outputs = stack.pop_all()  # closed (file first, then renamed) by __exit__

    def row(self, values) -> None:
        self.writer.writerow([_cell(v) for v in values])

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        return self._outputs.__exit__(exc_type, exc, traceback)


def _cell(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)
