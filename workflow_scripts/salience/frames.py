"""Frame ranges: the one type for prediction chunks and render segments, and their names.

A range ``[start, stop)`` is named ``SSSSSSS-EEEEEEE`` (seven digits each),
the name of its files (``chunks/0000300-0000600.zarr``,
``segments/heatmap/0000300-0000600.mp4``) and of the ``{chunk}`` and
``{segment}`` wildcards, whose constraint is ``NAME_PATTERN``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGITS = 7
NAME_PATTERN = rf"\d{{{DIGITS}}}-\d{{{DIGITS}}}"
_NAME = re.compile(rf"(\d{{{DIGITS}}})-(\d{{{DIGITS}}})")


@dataclass(frozen=True)
class FrameRange:
    """Frames ``[start, stop)`` of a video; ``warm_up`` frames decoded before them (chunks of window models)."""

    start: int
    stop: int
    warm_up: int = 0

    @property
    def name(self) -> str:
        return f"{self.start:0{DIGITS}d}-{self.stop:0{DIGITS}d}"

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def frames_decoded(self) -> int:
        return self.length + self.warm_up

    def contains(self, other: FrameRange) -> bool:
        return self.start <= other.start and other.stop <= self.stop

    @classmethod
    def parse(cls, name: str, warm_up: int = 0) -> FrameRange:
        """The range a name (``NAME_PATTERN``, no extension) stands for."""
        match = _NAME.fullmatch(name)
        if match is None:
            raise ValueError(f"not a frame range name (SSSSSSS-EEEEEEE): {name!r}")
        return cls(int(match.group(1)), int(match.group(2)), warm_up)
