"""What ``salience.predict`` relies on in a model: two kinds, written down once.

A *window* model (DeepGaze MR) sees the current frame and ``window_length - 1``
past frames: prediction computes each frame's features once (``encode``),
averages them over the window and reads the mean out (``decode``). A
*per-frame* model (DeepGaze IIE, III) predicts each frame from that frame
alone (``predict_frames``); its ``window_length`` is 1. Both turn a center
bias into the log-density they add (``log_center_bias``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class WindowModel(Protocol):
    window_length: int

    def log_center_bias(self, height: int, width: int, center_bias=None) -> torch.Tensor:
        """H x W log-density from a center bias (None: the model's own, else uniform)."""

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W frames in [0, 1] → per-frame features."""

    def decode(self, feature_means: torch.Tensor, log_center_bias: torch.Tensor) -> torch.Tensor:
        """Window means of the features → B x H x W log-densities."""


@runtime_checkable
class PerFrameModel(Protocol):
    window_length: int
    scale: float

    def log_center_bias(self, height: int, width: int, center_bias=None) -> torch.Tensor:
        """H x W log-density from a center bias (None: the model's own, else uniform)."""

    def predict_frames(self, frames: torch.Tensor, log_center_bias: torch.Tensor, *,
                       first_index: int) -> torch.Tensor:
        """N x 3 x H x W frames in [0, 1] (video frames first_index..) → N x H x W log-densities."""


def model_kind(model) -> type:
    """:class:`WindowModel` or :class:`PerFrameModel`; anything else is refused."""
    if isinstance(model, PerFrameModel) and model.window_length == 1:
        return PerFrameModel
    if isinstance(model, WindowModel) and model.window_length > 1:
        return WindowModel
    raise TypeError(f"{type(model).__name__} is neither a window model (window_length > 1, encode, "
                    "decode) nor a per-frame model (window_length 1, predict_frames)")
