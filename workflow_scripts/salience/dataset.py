"""A saliency store as a labelled xarray Dataset, for notebooks.

    import salience
    ds = salience.open("results/clip/saliency.zarr")
    ds.log_density.sel(time=12.5, method="ffill")   # the frame shown at 12.5 s
    salience.density(ds, 300)                       # frame 300 as probabilities

Nothing is read until a frame is indexed (no dask needed); each frame is one
zarr chunk.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

import numpy as np

from .errors import SalienceError
from .store import ARRAY, CODEC_WARNING, open_store

if TYPE_CHECKING:
    import xarray


def open(path) -> "xarray.Dataset":  # noqa: A001 - salience.open, as a notebook user expects
    """The store at ``path`` as a Dataset: ``log_density`` (frame, y, x), ``log_center_bias``
    (y, x), coordinates ``frame`` and ``time`` (seconds, indexed), attributes of the run."""
    import xarray as xr

    path = os.fspath(path)
    open_store(path)  # a clear error for a path that holds no saliency store
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=CODEC_WARNING)  # pcodec: see salience.store
        dataset = xr.open_zarr(path, chunks=None)
    if ARRAY not in dataset or "time" not in dataset.coords:
        raise SalienceError(f"{path}: not a saliency store of this version (no '{ARRAY}' with a 'time' "
                            "coordinate); assemble it again with this version")
    return dataset.set_xindex("time")


def density(dataset, frame: int) -> np.ndarray:
    """Frame ``frame`` as probabilities per pixel (H x W float64, summing to 1)."""
    return np.exp(dataset[ARRAY].isel(frame=frame).values.astype(np.float64))


def frame_at(dataset, seconds: float) -> int:
    """The frame on screen at ``seconds``: the last one whose time is not after it."""
    times = dataset["time"].values
    index = int(np.searchsorted(times, seconds, side="right")) - 1
    if index < 0:
        raise SalienceError(f"{seconds} s is before the first frame (at {times[0]} s)")
    return index
