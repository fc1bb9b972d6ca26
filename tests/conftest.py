import sys
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).parent
DATA = TESTS / "data"
sys.path.insert(0, str(TESTS))  # for `recipe`


@pytest.fixture(scope="session")
def fixture_npz():
    """Load a golden fixture copied from ../shared/fixtures into tests/data."""

    def load(name: str):
        path = DATA / name
        if not path.exists():
            pytest.skip(f"{path} missing: copy it from ../shared/fixtures/")
        return np.load(path)

    return load
