"""Fixtures shared by the test folders (unit, workflow, cluster, gpu); shared code is in tests/helpers."""

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def fixture_npz():
    """Load a golden fixture copied from ../shared/fixtures into tests/data."""

    def load(name: str):
        path = DATA / name
        if not path.exists():
            pytest.skip(f"{path} missing: copy it from ../shared/fixtures/")
        return np.load(path)

    return load


@pytest.fixture(scope="module")
def mr_fixture(fixture_npz):
    """The DeepGaze MR golden fixture: frames, center bias and the reference's maps."""
    return fixture_npz("deepgaze_mr_seed1.npz")


@pytest.fixture(scope="module")
def mr_model(mr_fixture):
    """DeepGaze MR with the fixture's weights (the recipe of ../shared/fixtures/README.md)."""
    from helpers.recipe import fill_with_recipe
    from salience.models import build_model

    model = build_model("deepgaze_mr")
    fill_with_recipe(model, int(mr_fixture["seed"]))
    return model
