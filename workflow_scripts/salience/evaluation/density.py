"""Empirical (human) densities: a frame's gaze points blurred by a Gaussian of the viewing geometry.

The blur's width is given in degrees of visual angle (full width at half
maximum) and turned into pixels by ``pixels_per_degree``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError

FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
TRUNCATE = 4.0  # scipy.ndimage.gaussian_filter's default, written out: the definition uses it



def sigma_pixels(pixels_per_degree: float, fwhm_degrees: float = 1.0) -> float:
    """The Gaussian's sigma in pixels for a blur of ``fwhm_degrees`` full width at half maximum."""
    if not pixels_per_degree > 0 or not fwhm_degrees > 0:
        raise ConfigError(f"pixels_per_degree ({pixels_per_degree}) and gaze_fwhm_degrees "
                          f"({fwhm_degrees}) must be positive")
    return fwhm_degrees * pixels_per_degree * FWHM_TO_SIGMA


def gaussian_weights(sigma: float) -> np.ndarray:
    """The 1-D kernel of ``scipy.ndimage.gaussian_filter`` (radius ``int(4 sigma + 0.5)``, sums to 1)."""
    radius = int(TRUNCATE * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * offsets**2)
    return weights / weights.sum()


class EmpiricalDensity:
    """The empirical density of a frame's points, built from Gaussian patches.

    Equal (within float rounding) to the definition: unit impulses at the
    points' pixels, ``scipy.ndimage.gaussian_filter(..., sigma, mode="constant",
    truncate=4.0)``, divided by the sum. The filter is linear and separable,
    so the blurred impulses are outer products of the 1-D kernel, cut at the
    frame's edges: a few thousand pixels per point instead of a full-frame
    filter. ``support`` returns only the pixels where the density is not zero
    (every metric that uses it only needs those).
    """

    def __init__(self, height: int, width: int, sigma: float):
        self.height, self.width = height, width
        self.weights = gaussian_weights(sigma)
        self.radius = len(self.weights) // 2
        self._canvas = np.zeros((height, width), np.float64)  # reused; zero between calls
        self._mask = np.zeros((height, width), bool)

    def _paint(self, x: np.ndarray, y: np.ndarray) -> list[tuple[slice, slice]]:
        w, r = self.weights, self.radius
        boxes = []
        # points on one pixel are painted once, times their count (samples of a fixation pile up)
        pixels, counts = np.unique(np.asarray(y) * self.width + np.asarray(x), return_counts=True)
        for pixel, count in zip(pixels.tolist(), counts.tolist()):
            py, px = divmod(pixel, self.width)
            x0, x1 = max(px - r, 0), min(px + r + 1, self.width)
            y0, y1 = max(py - r, 0), min(py + r + 1, self.height)
            rows = w[y0 - py + r:y1 - py + r] * count
            cols = w[x0 - px + r:x1 - px + r]
            self._canvas[y0:y1, x0:x1] += np.multiply.outer(rows, cols)
            boxes.append((slice(y0, y1), slice(x0, x1)))
        return boxes

    def support(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(flat pixel indices, normalized density there) of the points' density."""
        for rows, cols in self._paint(x, y):
            self._mask[rows, cols] = True
        index = np.flatnonzero(self._mask)
        self._mask.reshape(-1)[index] = False
        flat_canvas = self._canvas.reshape(-1)
        values = flat_canvas[index]
        flat_canvas[index] = 0.0
        return index, values / values.sum()

    def image(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The normalized density as a full H x W float64 array (zeros where no point reaches)."""
        out = np.zeros((self.height, self.width), np.float64)
        if len(x):
            index, values = self.support(x, y)
            out.reshape(-1)[index] = values
        return out
