"""Where the video was on the screen: gaze in screen pixels to pixels of the video.

Trackers report gaze in pixels of the screen (origin top left). The video
was shown in a rectangle of that screen, ``video_rect``:

* ``centered``: at its native size, centred (the rectangle's corner at
  ``floor((screen - video) / 2)``, as players place an odd remainder);
* ``fit``: scaled by ``min(screen_w / video_w, screen_h / video_h)`` and
  centred (letterbox or pillarbox bars);
* ``[x, y, width, height]``: anywhere, in screen pixels;
* ``auto``: the rectangle the file states (a Tobii Pro Lab export's
  ``Presented Media position`` and ``width``/``height`` columns), else
  ``centered``.

A point (sx, sy) of the screen is the point ``((sx - x) * video_w / width,
(sy - y) * video_h / height)`` of the video: exact, no rounding; points of
the screen outside the rectangle fall outside the video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

RECT_WORDS = ("auto", "centered", "fit")


@dataclass(frozen=True)
class Placement:
    """The video's rectangle on the screen, and the video's size in pixels."""

    x: float
    y: float
    width: float
    height: float
    video_width: int
    video_height: int

    @property
    def scale(self) -> float:
        """Screen pixels per video pixel (horizontally)."""
        return self.width / self.video_width

    def to_video(self, sx, sy) -> tuple[np.ndarray, np.ndarray]:
        sx = np.asarray(sx, dtype=np.float64)
        sy = np.asarray(sy, dtype=np.float64)
        return ((sx - self.x) * (self.video_width / self.width),
                (sy - self.y) * (self.video_height / self.height))

    def describe(self) -> str:
        return (f"the video ({self.video_width}x{self.video_height}) at ({self.x:g}, {self.y:g}) of the screen, "
                f"{self.width:g}x{self.height:g} screen pixels")


def placement(video_rect, screen, video_size, file_rect=None, *, where: str = "config 'gaze'") -> Placement:
    """The video's rectangle from config ``video_rect`` (see the module), the screen size and the file's own rect.

    ``screen``: (width, height) or None (needed by ``centered`` and ``fit``).
    ``file_rect``: (x, y, width, height) the file states, or None; a
    ``video_rect`` that disagrees with it is refused.
    """
    video_w, video_h = (int(v) for v in video_size)
    if video_rect in (None, "auto"):
        if file_rect is not None:
            return _checked(Placement(*map(float, file_rect), video_w, video_h), where)
        video_rect = "centered"
    if isinstance(video_rect, str):
        if video_rect not in RECT_WORDS:
            raise ConfigError(f"{where}: video_rect {video_rect!r} must be one of {', '.join(RECT_WORDS)} "
                              "or [x, y, width, height] in screen pixels")
        if screen is None:
            raise ConfigError(f"{where}: coordinates: screen with video_rect: {video_rect} needs the screen size: "
                              "set screen: [width, height] (pixels)")
        screen_w, screen_h = (float(v) for v in screen)
        if video_rect == "centered":
            rect = (math.floor((screen_w - video_w) / 2), math.floor((screen_h - video_h) / 2), video_w, video_h)
        else:
            scale = min(screen_w / video_w, screen_h / video_h)
            width, height = video_w * scale, video_h * scale
            rect = ((screen_w - width) / 2, (screen_h - height) / 2, width, height)
    else:
        try:
            rect = tuple(float(v) for v in video_rect)
        except (TypeError, ValueError):
            rect = ()
        if len(rect) != 4 or not all(math.isfinite(v) for v in rect) or rect[2] <= 0 or rect[3] <= 0:
            raise ConfigError(f"{where}: video_rect {video_rect!r} must be [x, y, width, height] in screen "
                              "pixels, width and height positive")
    result = _checked(Placement(*map(float, rect), video_w, video_h), where)
    if file_rect is not None:
        stated = Placement(*map(float, file_rect), video_w, video_h)
        if any(abs(a - b) > 0.5 for a, b in zip((result.x, result.y, result.width, result.height),
                                                 (stated.x, stated.y, stated.width, stated.height))):
            raise ConfigError(
                f"{where}: video_rect: {video_rect} places {result.describe()}, but the file says "
                f"{stated.describe()}; remove video_rect (auto uses the file's) or correct it")
    return result


def _checked(result: Placement, where: str) -> Placement:
    if not (result.width > 0 and result.height > 0):
        raise ConfigError(f"{where}: the video's rectangle on the screen has no area ({result.describe()})")
    return result
