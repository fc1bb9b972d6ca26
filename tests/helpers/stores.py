"""Small saliency stores for tests of the evaluation steps (written with salience.store)."""

from __future__ import annotations

import numpy as np
import zarr

from salience import store


def normalized(log_map: np.ndarray) -> np.ndarray:
    log_map = np.asarray(log_map, dtype=np.float64)
    return log_map - np.log(np.exp(log_map).sum(axis=(-2, -1), keepdims=True))


def make_store(path, log_maps: np.ndarray, *, log_center_bias=None, fps: float = 10.0, times=None,
               dtype: str = "float32"):
    """A store holding ``log_maps`` (T, H, W); ``times``: an optional per-frame ``time`` array."""
    count, height, width = log_maps.shape
    if log_center_bias is None:
        log_center_bias = np.full((height, width), -np.log(height * width))
    array = store.create(path, count, height, width, {"fps": fps, "frame_count": count}, dtype,
                         log_center_bias=log_center_bias)
    for index in range(count):
        array[index] = log_maps[index]
    if times is not None:
        group = zarr.open_group(str(path), mode="r+")
        group.create_array("time", data=np.asarray(times, dtype=np.float64))
    return path


def random_maps(rng, count: int, height: int, width: int, spread: float = 2.0) -> np.ndarray:
    return normalized(rng.normal(size=(count, height, width)) * spread).astype(np.float32)
