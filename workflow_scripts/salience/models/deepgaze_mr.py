"""DeepGaze MR: video saliency from the mean of VGG19 features over 16 frames.

Tangemann, Kümmerer, Wallis & Bethge, "Measuring the Importance of Temporal
Features in Video Saliency", ECCV 2020. Reference implementation:
https://github.com/mtangemann/deepgazemr (this is a port written from its
architecture; the official checkpoint loads with ``strict=True``).

The model reads a window of the current and 15 past frames:

1. every frame goes through VGG19's convolutional body (ImageNet
   normalization, the last max-pool removed: stride 16, 512 channels);
2. the window's 16 feature maps are averaged;
3. a 1x1-convolution readout (512 → 32 → 32 → 1, GroupNorm and Softplus
   between) gives a priority map;
4. the finalizer upsamples it (nearest) to the frame size, blurs it with a
   Gaussian (sigma 16 px, 97 taps, replicate padding), adds the weighted log
   center bias and normalizes to a log-density (``logsumexp == 0``).

Since step 1 is per frame and step 2 is a mean, a video is predicted by
computing each frame's features once and sliding the window over them
(``salience.predict``); :meth:`DeepGazeMR.encode` and
:meth:`DeepGazeMR.decode` are the two halves used there.

Weights
-------
The official checkpoint ``deepgazemr-ledov.pt`` (a dict whose
``model_state_dict`` holds every parameter, VGG19 included) and the LEDOV
center bias are described, with URLs and git blob ids, in
``cards/deepgaze_mr.py``; ``salience.weights`` fetches and verifies them.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .cards.deepgaze_mr import DEEPGAZE_MR
from .center_bias import as_log_density
from .checkpoint import load_state

# VGG19 configuration "E": channels per conv layer, "M" a 2x2 max-pool.
# The final max-pool is left out (the reference replaces it by Identity), but
# it keeps its index so that parameter names match torchvision's numbering.
_VGG19_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]  # fmt: skip

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG19Body(nn.Module):
    """VGG19's convolutional layers, last max-pool replaced by identity.

    Built here rather than from ``torchvision.models.vgg19`` so that no
    classifier (120 M parameters) is allocated and nothing is downloaded.
    """

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for item in _VGG19_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(in_channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                in_channels = item
        layers[-1] = nn.Identity()  # the dropped final pool
        self.features = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)


class Backbone(nn.Module):
    """ImageNet normalization followed by the VGG19 body."""

    def __init__(self):
        super().__init__()
        self.vgg = VGG19Body()
        # Not persistent: the checkpoint holds no normalization constants.
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``frames``: N x 3 x H x W in [0, 1] → N x 512 x H/16 x W/16."""
        return self.vgg((frames - self.mean.to(frames.dtype)) / self.std.to(frames.dtype))


class Readout(nn.Sequential):
    """1x1 convolutions 512 → 32 → 32 → 1 with GroupNorm and Softplus between."""

    def __init__(self, channels=(32, 32, 1), in_channels: int = 512):
        layers = OrderedDict()
        sizes = (in_channels, *channels)
        for i in range(1, len(sizes)):
            layers[f"conv{i}"] = nn.Conv2d(sizes[i - 1], sizes[i], kernel_size=1)
            if i < len(sizes) - 1:  # no norm or nonlinearity after the last layer
                layers[f"norm{i}"] = nn.GroupNorm(1, sizes[i], affine=True)
                layers[f"nlin{i}"] = nn.Softplus()
        super().__init__(layers)


class GaussianBlur1d(nn.Module):
    """Gaussian blur along one spatial axis (0: height, 1: width), replicate padding.

    The kernel is made from ``grid`` and ``sigma`` at every call, as in the
    reference, so checkpoints that store a trained ``sigma`` load unchanged.
    """

    def __init__(self, axis: int, sigma: float, kernel_size: int):
        super().__init__()
        self.axis = axis
        self.sigma = nn.Parameter(torch.tensor([float(sigma)]), requires_grad=False)
        shape = [1, 1, 1, 1]
        shape[2 + axis] = kernel_size
        grid = torch.arange(float(kernel_size)) - (kernel_size - 1) / 2
        self.register_buffer("grid", grid.view(shape))
        half = math.ceil((kernel_size - 1) / 2)
        # F.pad lists the last axis first: (left, right, top, bottom).
        self.padding = (half, half, 0, 0) if axis == 1 else (0, 0, half, half)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        kernel = torch.exp(-0.5 * (self.grid / self.sigma) ** 2)
        kernel = kernel / kernel.sum()
        return F.conv2d(F.pad(maps, self.padding, mode="replicate"), kernel)


class Finalizer(nn.Module):
    """Priority map → log-density: upsample, blur, add center bias, normalize."""

    def __init__(self, sigma: float = 16.0, center_bias_weight: float = 1.0):
        super().__init__()
        kernel_size = int(2 * math.ceil(3 * sigma) + 1)
        self.gauss_x = GaussianBlur1d(axis=1, sigma=sigma, kernel_size=kernel_size)
        self.gauss_y = GaussianBlur1d(axis=0, sigma=sigma, kernel_size=kernel_size)
        self.center_bias_weight = nn.Parameter(torch.tensor([center_bias_weight]))

    def forward(self, priority: torch.Tensor, log_center_bias: torch.Tensor) -> torch.Tensor:
        """``priority``: B x 1 x h x w; ``log_center_bias``: H x W → B x H x W."""
        out = F.interpolate(priority, size=log_center_bias.shape[-2:], mode="nearest")
        out = self.gauss_y(self.gauss_x(out))
        out = out[:, 0] + self.center_bias_weight * log_center_bias
        return out - out.logsumexp(dim=(1, 2), keepdim=True)


class DeepGazeMR(nn.Module):
    """DeepGaze MR. ``center_bias``: default H x W probability map (any size)."""

    window_length = DEEPGAZE_MR.temporal_window  # the current frame and 15 past frames

    def __init__(self, center_bias: torch.Tensor | None = None):
        super().__init__()
        self.features = Backbone()
        self.readout = Readout()
        self.finalizer = Finalizer()
        # A plain attribute, not a buffer: the checkpoint holds no center bias.
        self.center_bias = center_bias

    def log_center_bias(self, height: int, width: int, center_bias=None) -> torch.Tensor:
        """The log center bias at frame size, as the reference computes it.

        ``center_bias`` (default: the model's) is a probability map or a
        :class:`~salience.models.center_bias.CenterBias`; a map of another
        size is resized (nearest) and renormalized. Without one the map is uniform.
        """
        return as_log_density(self.center_bias if center_bias is None else center_bias, height, width)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Per-frame features: N x 3 x H x W in [0, 1] → N x 512 x h x w."""
        return self.features(frames)

    def decode(self, feature_means: torch.Tensor, log_center_bias: torch.Tensor) -> torch.Tensor:
        """Window-mean features B x 512 x h x w → log-densities B x H x W."""
        return self.finalizer(self.readout(feature_means), log_center_bias)

    def forward(self, clip: torch.Tensor, center_bias=None) -> torch.Tensor:
        """Log-density (H x W) of the last frame of ``clip`` (T x 3 x H x W, [0, 1])."""
        log_cb = self.log_center_bias(*clip.shape[-2:], center_bias).to(clip.device)
        return self.decode(self.encode(clip).mean(dim=0, keepdim=True), log_cb)[0]


def deepgaze_mr(checkpoint: str | Path | None = None, center_bias=None) -> DeepGazeMR:
    """DeepGaze MR in eval mode: untrained (``None``: random weights, tests
    only) or loaded from ``checkpoint`` (the official ``deepgazemr-ledov.pt``,
    or a state dict) with ``strict=True``. ``center_bias``: the H x W
    probability map used when prediction is given none (default: uniform).
    """
    model = DeepGazeMR()
    if checkpoint is not None:
        load_state(model, checkpoint, "DeepGaze MR", DEEPGAZE_MR.checkpoint.url)
    model.center_bias = None if center_bias is None else torch.as_tensor(center_bias, dtype=torch.float32)
    return model.eval()
