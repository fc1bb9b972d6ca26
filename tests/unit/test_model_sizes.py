"""Each model card's ``min_frame_side`` is the smallest frame side its backbone takes."""

from __future__ import annotations

import numpy as np
import pytest

from salience.models import MODEL_NAMES, build_model, describe
from salience.predict import iter_log_density

pytestmark = pytest.mark.slow  # builds every model, untrained


def predicts(model, height: int, width: int) -> bool:
    frames = [np.full((height, width, 3), 128, np.uint8)] * 2
    try:
        maps = [m for _, m in iter_log_density(model, frames, batch_size=2)]
    except RuntimeError as error:  # PyTorch: "Output size is too small", "Kernel size can't be greater"
        assert "size" in str(error).lower(), error
        return False
    return len(maps) == 2 and np.isfinite(maps[-1]).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_min_frame_side_is_the_smallest_that_runs(name):
    side = describe(name).min_frame_side
    model = build_model(name)
    assert predicts(model, side, side)
    assert predicts(model, side, 3 * side) and predicts(model, 3 * side, side)
    assert not predicts(model, side - 1, 3 * side)
    assert not predicts(model, 3 * side, side - 1)
