"""DeepGaze IIE: an ensemble of DeepGaze II readouts on four ImageNet backbones.

Linardos, A., Kümmerer, M., Press, O., & Bethge, M. (2021). *Calibrated
prediction in and out-of-domain for state-of-the-art saliency modeling.*
ICCV 2021, arXiv:2105.12441. Reference implementation:
https://github.com/matthias-k/DeepGaze (``deepgaze_pytorch.DeepGazeIIE``).

Architecture. Each of four backbones sees the image downsampled by 2:

=====  ====================================  ========================================  ========
index  backbone                              layers read (``features.1.…``)            channels
=====  ====================================  ========================================  ========
0      ResNet-50 trained on Stylized         ``module.layer3.{0,3}.conv2``,            2048
       ImageNet + ImageNet, fine-tuned on    ``module.layer3.5.conv{1,2}``,
       ImageNet ("ShapeNet C", Geirhos       ``module.layer4.{1,2}.conv2``
       et al. 2019)
1      EfficientNet-B5 (lukemelas layout)    ``_blocks.24._depthwise_conv``,           2416
                                             ``_blocks.26._depthwise_conv``,
                                             ``_blocks.35._project_conv``
2      DenseNet-201                          ``features.denseblock4.denselayer32.``    2048
                                             ``{norm1,conv1}``, ``…denselayer31.conv2``
3      ResNeXt-50 32x4d                      ``layer3.5.conv{1,2}``, ``layer3.4.conv2``,  2560
                                             ``layer4.2.conv2``
=====  ====================================  ========================================  ========

The maps are read out on a grid of 1/32 of the image size by 30 components
per backbone (3 trained instances x 10 cross-validation folds); each component
blurs its map at 1/2 image size, adds its weighted log center bias and
normalises. The 120 densities are averaged (30 per backbone, then the four
backbones), which calibrates the prediction.

Weights: ``deepgaze2e.pth`` (a plain state dict, about 400 MB, backbones
included), described with its URL in ``cards/deepgaze_iie.py``. The model
was trained on MIT1003 (images mostly 1024 px on the long side, 35 px per
degree of visual angle).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import torch
import torchvision
from torch import nn

from ._efficientnet import efficientnet_b5
from .cards.deepgaze_iie import DEEPGAZE_IIE
from .checkpoint import ready
from .layers import FeatureExtractor, Finalizer, fixation_selection_network, saliency_network
from .mixture import DeepGazeMixture
from .per_frame import FrameByFrame

__all__ = ["DeepGazeIIE", "deepgaze_iie"]

def _shapenet_resnet50() -> nn.Module:
    # The authors' checkpoint was saved from nn.DataParallel, hence ``module.``.
    return nn.Sequential(OrderedDict([("module", torchvision.models.resnet50(weights=None))]))


# (backbone factory, layers read, channels of their concatenation)
BACKBONES = (
    (
        _shapenet_resnet50,
        (
            "1.module.layer3.0.conv2",
            "1.module.layer3.3.conv2",
            "1.module.layer3.5.conv1",
            "1.module.layer3.5.conv2",
            "1.module.layer4.1.conv2",
            "1.module.layer4.2.conv2",
        ),
        2048,
    ),
    (
        efficientnet_b5,
        (
            "1._blocks.24._depthwise_conv",
            "1._blocks.26._depthwise_conv",
            "1._blocks.35._project_conv",
        ),
        2416,
    ),
    (
        lambda: torchvision.models.densenet201(weights=None),
        (
            "1.features.denseblock4.denselayer32.norm1",
            "1.features.denseblock4.denselayer32.conv1",
            "1.features.denseblock4.denselayer31.conv2",
        ),
        2048,
    ),
    (
        lambda: torchvision.models.resnext50_32x4d(weights=None),
        (
            "1.layer3.5.conv1",
            "1.layer3.5.conv2",
            "1.layer3.4.conv2",
            "1.layer4.2.conv2",
        ),
        2560,
    ),
)

COMPONENTS_PER_BACKBONE = 30


def _backbone_mixture(factory, targets, channels, components: int) -> DeepGazeMixture:
    return DeepGazeMixture(
        features=FeatureExtractor(factory(), targets),
        saliency_networks=[
            saliency_network(channels, final_name="softplus3") for _ in range(components)
        ],
        fixation_selection_networks=[fixation_selection_network(0) for _ in range(components)],
        finalizers=[Finalizer(sigma=8.0, saliency_map_factor=2) for _ in range(components)],
        scanpath_networks=None,
        downsample=2,
        readout_factor=16,
    )


class DeepGazeIIE(FrameByFrame, nn.Module):
    """DeepGaze IIE: four :class:`DeepGazeMixture` models (``models.0`` … ``models.3``), averaged.

    ``forward(images, centerbias)``:

    * ``images``: float N x 3 x H x W, RGB, values 0..255 (the model scales them).
    * ``centerbias``: float N x H x W log-density (``salience.models.center_bias``).
    * returns N x 1 x H x W log-densities (``logsumexp`` over each map is 0).

    ``x_hist``/``y_hist`` are accepted and ignored, as in the reference, so that
    callers can treat IIE and III alike.
    """

    uses_fixation_history = False
    included_fixations: tuple[int, ...] = ()

    def __init__(self, components_per_backbone: int = COMPONENTS_PER_BACKBONE):
        super().__init__()
        self.models = nn.ModuleList(
            _backbone_mixture(factory, targets, channels, components_per_backbone)
            for factory, targets, channels in BACKBONES
        )

    def forward(self, images: torch.Tensor, centerbias: torch.Tensor,
                x_hist: torch.Tensor | None = None, y_hist: torch.Tensor | None = None) -> torch.Tensor:
        predictions = torch.cat([model(images, centerbias) for model in self.models], dim=1)
        predictions = predictions - math.log(len(self.models))
        return predictions.logsumexp(dim=1, keepdim=True)


def deepgaze_iie(checkpoint: str | Path | None = None, **kwargs) -> DeepGazeIIE:
    """DeepGaze IIE in eval mode: untrained (``None``: random weights, tests
    only) or loaded from ``checkpoint`` (the official ``deepgaze2e.pth`` or a
    state-dict file) with ``strict=True``. ``kwargs`` go to :class:`DeepGazeIIE`."""
    return ready(DeepGazeIIE(**kwargs), checkpoint, "DeepGaze IIE", DEEPGAZE_IIE.checkpoint.url)
