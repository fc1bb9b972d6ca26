"""The Lund 2013 recording (../shared, GPL-3.0) written as eye trackers export it, for tests and benchmarks.

``exports`` is tests/data/lund2013/make_exports.py (a script too), loaded once.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_MAKER = Path(__file__).resolve().parents[1] / "data" / "lund2013" / "make_exports.py"
_spec = importlib.util.spec_from_file_location("lund2013_exports", _MAKER)
exports = sys.modules.setdefault("lund2013_exports", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(exports)


def written_exports(tmp_path_factory) -> tuple[Path, Path, dict]:
    """(the shared folder, a folder with every export, format -> file pattern): skips without ../shared."""
    import pytest  # here: the benchmarks load ``exports`` without pytest

    shared = exports.shared_dir()
    if shared is None:
        pytest.skip("../shared/data/lund2013 is absent (set SALIENCE_SHARED to the shared folder)")
    data = tmp_path_factory.mktemp("lund2013_exports")
    return shared, data, exports.write_all(data, shared)
