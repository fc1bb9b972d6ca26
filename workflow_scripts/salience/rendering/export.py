"""Per-frame files: heatmap PNGs and log-density .npy arrays (config export:).

Files are named ``frame_<index>`` with the index zero-padded to the digits
of the frame count, at least 6; each directory appears whole (``atomic.StagedDir``).
"""

from __future__ import annotations

from contextlib import ExitStack

import cv2
import numpy as np

from ..atomic import StagedDir
from ..settings import RenderStyle
from ..store import open_array
from .colour import apply_lut, check_normalization, colormap_lut, global_density_max, normalized_density

def export_frame(index, digits, heat, log_frame, pngs, npys) -> None:
    """Write one frame's heatmap PNG and/or log-density .npy into staged directories."""
    stem = f"frame_{index:0{digits}d}"
    if pngs is not None:
        png_path = pngs.file(stem + ".png")
        if not cv2.imwrite(png_path, cv2.cvtColor(heat, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {png_path} (disk full?)")
    if npys is not None:
        np.save(npys.file(stem + ".npy"), log_frame)


def export_frames(zarr_path, *, png_dir=None, npy_dir=None, style: RenderStyle = RenderStyle()) -> None:
    """Per-frame files from a store alone (no video needed), named as in ``render_videos``.

    ``png_dir``: heatmap PNGs at the store's size; ``npy_dir``: float32
    log-density arrays, the format of the old notebooks. Each directory
    appears whole or not at all.
    """
    check_normalization(style.normalization)
    lut = colormap_lut(style.colormap)
    log_density = open_array(zarr_path)
    frame_count = log_density.shape[0]
    vmax = global_density_max(log_density) if style.normalization == "global" and png_dir else None
    digits = max(6, len(str(frame_count)))
    with ExitStack() as outputs:
        pngs = outputs.enter_context(StagedDir(png_dir)) if png_dir is not None else None
        npys = outputs.enter_context(StagedDir(npy_dir)) if npy_dir is not None else None
        for index in range(frame_count):
            log_frame = np.asarray(log_density[index], dtype=np.float32)
            heat = apply_lut(normalized_density(log_frame, vmax), lut) if pngs is not None else None
            export_frame(index, digits, heat, log_frame, pngs, npys)

