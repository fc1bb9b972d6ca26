"""Colours of the maps: a log-density frame as a heatmap, and the heatmap laid over a video frame.

Each frame is scaled by its own peak density (normalization "frame") or by
the video's (``global_density_max``, normalization "global"), then looked up
in a 256-entry table of a matplotlib colormap.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from ..errors import ConfigError
from ..settings import NORMALIZATIONS, RenderStyle


@functools.lru_cache(maxsize=None)
def colormap_lut(cmap: str) -> np.ndarray:
    """A matplotlib colormap as a 256 x 3 uint8 RGB lookup table (built once per name)."""
    import matplotlib

    try:
        colormap = matplotlib.colormaps[cmap]
    except KeyError as error:
        raise ConfigError(
            f"unknown colormap {cmap!r}: use a matplotlib colormap name, e.g. 'inferno', 'viridis', 'jet'"
        ) from error
    rgba = colormap(np.linspace(0.0, 1.0, 256))
    lut = np.round(rgba[:, :3] * 255.0).astype(np.uint8)
    lut.setflags(write=False)  # shared by the cache
    return lut


def normalized_density(log_density: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """Density scaled to [0, 1] as float32: by the frame's own max, or by ``vmax`` (clipped).

    Computed as ``exp(log_density - log(reference))`` rather than
    ``exp(log_density) / reference``: at full resolution a density is ~1e-6 per
    pixel, and subtracting in log space keeps the low end from underflowing.
    NaN counts as zero density.
    """
    log_density = np.asarray(log_density, dtype=np.float32)
    if log_density.ndim != 2:
        raise ValueError(f"a log-density frame must be 2-D (H x W), got shape {log_density.shape}")
    if vmax is None:
        log_reference = float(np.fmax.reduce(log_density, axis=None))  # fmax ignores NaN
        if not math.isfinite(log_reference):
            return np.zeros(log_density.shape, np.float32)  # no mass anywhere: all lowest colour
    else:
        if not vmax > 0:
            raise ValueError(f"vmax must be a positive density, got {vmax}")
        log_reference = math.log(vmax)
    scaled = np.exp(log_density - np.float32(log_reference))
    np.nan_to_num(scaled, copy=False, nan=0.0, posinf=1.0)
    return np.minimum(scaled, 1.0, out=scaled)


def apply_lut(scaled: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to RGB through a 256-entry table (overwrites ``scaled``)."""
    index = np.empty(scaled.shape, np.uint8)
    np.multiply(scaled, 255.0, out=scaled)
    np.add(scaled, 0.5, out=scaled)  # round to the nearest entry
    np.copyto(index, scaled, casting="unsafe")
    # cv2.LUT on a 3-channel index image is several times faster than numpy fancy indexing.
    return cv2.LUT(cv2.merge([index, index, index]), lut.reshape(256, 1, 3))


def colorize(log_density: np.ndarray, *, cmap: str = RenderStyle.colormap, vmax: float | None = None) -> np.ndarray:
    """A log-density frame as an RGB uint8 heatmap (H x W x 3).

    ``vmax=None``: per-frame normalization, the frame's densest pixel gets the
    colormap's top colour. Otherwise global normalization: density / ``vmax``,
    clipped to 1 (pass ``global_density_max`` of the whole store).
    """
    return apply_lut(normalized_density(log_density, vmax), colormap_lut(cmap))


def blend(frame_rgb: np.ndarray, heat_rgb: np.ndarray, opacity: float) -> np.ndarray:
    """The heatmap laid over the frame: ``(1 - opacity) * frame + opacity * heat``, uint8."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    if frame_rgb.shape != heat_rgb.shape or frame_rgb.dtype != np.uint8 or heat_rgb.dtype != np.uint8:
        raise ValueError(
            f"frame and heatmap must be uint8 arrays of one shape, got {frame_rgb.shape} "
            f"{frame_rgb.dtype} and {heat_rgb.shape} {heat_rgb.dtype}"
        )
    return cv2.addWeighted(frame_rgb, 1.0 - opacity, heat_rgb, opacity, 0.0)


def global_density_max(log_density_array) -> float | None:
    """The largest density (``exp`` of the largest log-density) over all frames.

    Streams: reads one frame (one chunk) at a time. NaN is ignored; None
    where no frame holds a finite value (DeepGaze MR's ``head: skip`` leaves
    the first 15 frames NaN, so a chunk of at most 15 frames holds none).
    Such frames are drawn in the lowest colour whatever the peak.
    """
    peak = -math.inf
    for index in range(log_density_array.shape[0]):
        frame = np.asarray(log_density_array[index], dtype=np.float32)
        peak = max(peak, float(np.fmax.reduce(frame, axis=None)))
    return math.exp(peak) if math.isfinite(peak) else None


def check_normalization(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")

