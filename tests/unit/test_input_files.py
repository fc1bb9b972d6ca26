"""Files the config names, read as users' tools write them; a wrong file is refused without echoing it."""

from __future__ import annotations

import numpy as np

from salience.models.center_bias import check_center_bias_file, load_center_bias, log_density_from_probability


def test_center_bias_values_beyond_float32_keep_their_shape(tmp_path):
    shape = np.outer(np.hanning(12) + 0.01, np.hanning(16) + 0.01)
    path = tmp_path / "huge.npy"
    np.save(path, shape * 1e300)  # float64: every value above float32's maximum (3.4e38)
    check_center_bias_file(path)
    loaded = load_center_bias(path, "probability_map").log_density(24, 32)
    expected = log_density_from_probability(shape, 24, 32)
    assert np.isfinite(loaded.numpy()).all()
    np.testing.assert_allclose(loaded.numpy(), expected.numpy(), atol=1e-5)
    assert loaded.max() - loaded.min() > 1  # not uniform
