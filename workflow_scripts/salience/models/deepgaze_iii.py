"""DeepGaze III: a scanpath model, the next fixation given the image and the last four.

Kümmerer, M., Bethge, M., & Wallis, T. S. A. (2022). *DeepGaze III: Modeling
free-viewing human scanpaths with deep learning.* Journal of Vision 22(5):7,
https://doi.org/10.1167/jov.22.5.7. Reference implementation:
https://github.com/matthias-k/DeepGaze (``deepgaze_pytorch.DeepGazeIII``).

Architecture. The image, downsampled by 2, goes through a frozen DenseNet-201;
three maps of its last dense block (``denselayer32.norm1``, ``denselayer32.conv1``,
``denselayer31.conv2``; 2048 channels together) are read out on a grid of 1/8
of the image size. Ten components (cross-validation folds) each combine

* a *saliency network* on the DenseNet maps (2048 -> 8 -> 16 -> 1 channels),
* a *scanpath network* on the positions of the four previous fixations
  relative to each grid cell (dx, dy, distance per fixation -> 128 -> 16
  channels; absent fixations, given as NaN, are skipped),

in a *fixation selection network* (17 -> 128 -> 16 -> 1 channels). Each
component blurs its map at 1/4 image size, adds its weighted log center bias and
normalises; the ten densities are averaged.

Weights: ``deepgaze3.pth`` (a plain state dict, DenseNet-201 included),
described with its URL in ``cards/deepgaze_iii.py``. Trained on MIT1003
(35 px per degree of visual angle).
"""

from __future__ import annotations

from pathlib import Path

import torchvision

from .cards.deepgaze_iii import DEEPGAZE_III
from .checkpoint import ready
from .layers import (
    FeatureExtractor,
    Finalizer,
    fixation_selection_network,
    saliency_network,
    scanpath_network,
)
from .mixture import DeepGazeMixture
from .per_frame import FrameByFrame

__all__ = ["DeepGazeIII", "deepgaze_iii"]

FEATURE_LAYERS = (
    "1.features.denseblock4.denselayer32.norm1",
    "1.features.denseblock4.denselayer32.conv1",
    "1.features.denseblock4.denselayer31.conv2",
)
COMPONENTS = 10


class DeepGazeIII(FrameByFrame, DeepGazeMixture):
    """DeepGaze III (state-dict layout of the reference ``DeepGazeIII``).

    ``forward(images, centerbias, x_hist, y_hist)``:

    * ``images``: float N x 3 x H x W, RGB, values 0..255 (the model scales them).
    * ``centerbias``: float N x H x W log-density (``salience.models.center_bias``).
    * ``x_hist``, ``y_hist``: float N x 4, the previous fixations in image pixels,
      most recent first (the reference's ``included_fixations = [-1, -2, -3, -4]``
      applied to the scanpath). NaN marks a fixation that does not exist.
    * returns N x 1 x H x W log-densities of the next fixation.
    """

    uses_fixation_history = True
    included_fixations = (-1, -2, -3, -4)

    def __init__(self, components: int = COMPONENTS):
        in_fixations = len(self.included_fixations)
        super().__init__(
            features=FeatureExtractor(torchvision.models.densenet201(weights=None), FEATURE_LAYERS),
            saliency_networks=[saliency_network(2048) for _ in range(components)],
            scanpath_networks=[scanpath_network(in_fixations) for _ in range(components)],
            fixation_selection_networks=[fixation_selection_network(16) for _ in range(components)],
            finalizers=[Finalizer(sigma=8.0, saliency_map_factor=4) for _ in range(components)],
            downsample=2,
            readout_factor=4,
        )


def deepgaze_iii(checkpoint: str | Path | None = None, **kwargs) -> DeepGazeIII:
    """DeepGaze III in eval mode: untrained (``None``: random weights, tests
    only) or loaded from ``checkpoint`` (the official ``deepgaze3.pth`` or a
    state-dict file) with ``strict=True``. ``kwargs`` go to :class:`DeepGazeIII`."""
    return ready(DeepGazeIII(**kwargs), checkpoint, "DeepGaze III", DEEPGAZE_III.checkpoint.url)
