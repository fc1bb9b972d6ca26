"""Center biases given as probability maps, shared by every model."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def uniform_log_density(height: int, width: int) -> torch.Tensor:
    """No center bias: every pixel equally likely."""
    return torch.full((height, width), -math.log(height * width))


def log_density_from_probability(center_bias, height: int, width: int) -> torch.Tensor:
    """An H x W probability map (any size) → log-density at frame size.

    Resized with nearest-neighbour sampling (as the DeepGaze MR reference
    does) and renormalized. Every model here normalizes its output last, so
    renormalizing a map that already sums to 1 changes nothing.
    """
    center_bias = torch.as_tensor(center_bias, dtype=torch.float32).cpu()
    if center_bias.ndim != 2:
        raise ValueError(f"center bias must be an H x W map, got shape {tuple(center_bias.shape)}")
    if tuple(center_bias.shape) != (height, width):
        center_bias = F.interpolate(center_bias[None, None], size=(height, width))[0, 0]
    return (center_bias / center_bias.sum()).log()
