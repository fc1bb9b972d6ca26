"""A full disk ends a step with one line, not a traceback; nothing half-written stays."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
from helpers.videos import make_video, probe_record

from salience import __main__ as cli
from salience import store


def test_disk_full_during_assembly_is_one_line(tmp_path, monkeypatch, capsys):
    probe_record(tmp_path / "probe.json", frames=4)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "saliency.zarr" / "c" / "0"))

    monkeypatch.setattr(store, "assemble", full)
    code = cli.main(["assemble", str(tmp_path / "chunk.zarr"), "--probe", str(tmp_path / "probe.json"),
                     "--output", str(tmp_path / "saliency.zarr")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "No space left on device" in err and "saliency.zarr" in err and "free some space" in err


def test_other_os_errors_still_show_where_they_came_from(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    probe_record(tmp_path / "probe.json", frames=4)
    monkeypatch.setattr(store, "assemble", broken)
    with pytest.raises(OSError):
        cli.main(["assemble", "x.zarr", "--probe", str(tmp_path / "probe.json"), "--output", "y.zarr"])


@pytest.mark.slow
def test_assembly_onto_a_full_file_system(tmp_path):
    """On a real full file system (a tiny tmpfs: needs the right to mount, else skipped)."""
    full = tmp_path / "full"
    full.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(full)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        make_video(tmp_path / "clip.mp4", frames=8, size="96x64")
        step = [sys.executable, "-m", "salience"]
        subprocess.run([*step, "probe", str(tmp_path / "clip.mp4"), "--output", str(tmp_path / "probe.json")],
                       check=True, capture_output=True)
        subprocess.run([*step, "predict", str(tmp_path / "clip.mp4"), "--weights", "untrained",
                        "--probe", str(tmp_path / "probe.json"), "--output", str(tmp_path / "chunk.zarr"),
                        "--shard-frames", "8"], check=True, capture_output=True)
        result = subprocess.run([*step, "assemble", str(tmp_path / "chunk.zarr"), "--probe",
                                 str(tmp_path / "probe.json"), "--output", str(full / "saliency.zarr")],
                                capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert "No space left on device" in result.stderr
        assert os.listdir(full) == []  # the unfinished store is gone
    finally:
        subprocess.run(["umount", str(full)], check=False)
