"""Areas of interest drawn on the overlay video: their outlines (and names) where and when they exist."""

from __future__ import annotations

import cv2
import numpy as np


def draw_aois(frame_rgb: np.ndarray, aois: list, t: float, *, color=(0, 255, 255), thickness: int = 2,
              labels: bool = True) -> np.ndarray:
    """The frame with the outlines (and names) of the AOIs present at time t drawn on it (in place).

    ``aois``: ``evaluation.aoi.AOI`` objects (``read_aoi_csv``), drawn over the
    pixels that their metrics count.
    """
    height, width = frame_rgb.shape[:2]
    for aoi in aois:
        pixels = aoi.pixels_at(t, width, height)
        if pixels is None:
            continue
        r0, r1, c0, c1 = pixels
        if r1 > r0 and c1 > c0:
            cv2.rectangle(frame_rgb, (c0, r0), (c1 - 1, r1 - 1), color, thickness)
            if labels:
                cv2.putText(frame_rgb, aoi.name, (c0 + 3, max(r0 + 12, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                            color, 1, cv2.LINE_AA)
    return frame_rgb

