"""How concentrated a video's maps are, frame by frame: entropy and the share of the top pixels.

- ``entropy_bits``: -sum p log2 p. A uniform map over N pixels has log2 N
  bits; a map with all its mass on one pixel has 0.
- ``top5_mass``: the share of the density on the densest 5 % of pixels
  (ceil(0.05 N) pixels); 0.05 for a uniform map, near 1 for a peaked one.
"""

from __future__ import annotations

import math

import numpy as np

from ..atomic import StagedCSV
from ..store import ARRAY, open_store, read_frames_ahead

COLUMNS = ("frame", "time", "entropy_bits", "top5_mass")
TOP_SHARE = 0.05


def concentration(log_density: np.ndarray) -> tuple[float, float]:
    """(entropy in bits, share of mass in the top 5 % of pixels) of one log-density frame."""
    log_p = np.asarray(log_density, dtype=np.float64).reshape(-1)
    p = np.exp(log_p)
    total = p.sum()
    log_p = log_p - math.log(total)
    p /= total
    entropy = -float(np.einsum("i,i->", p, log_p)) / math.log(2.0)
    top = math.ceil(TOP_SHARE * p.size)
    return entropy, float(np.partition(p, p.size - top)[p.size - top:].sum())


def concentration_table(store_path, output) -> None:
    """Write the per-frame concentration CSV of a store (``COLUMNS``), streaming."""
    from .gaze import timeline_of_store

    group = open_store(store_path)
    array = group[ARRAY]
    timeline = timeline_of_store(group, store_path)
    with StagedCSV(output, COLUMNS) as table:
        for frame, log_density in enumerate(read_frames_ahead(array, range(array.shape[0]))):
            if np.isnan(log_density).all():
                continue  # head: skip
            table.row([frame, float(timeline.times[frame]), *concentration(log_density)])
