"""The DeepGaze II mixture: one backbone, several readout components, averaged as densities."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .layers import FeatureExtractor, Finalizer, SaliencyNetwork, encode_scanpath


class DeepGazeMixture(nn.Module):
    """One backbone, several readout components, averaged as densities.

    Args:
        features: a :class:`FeatureExtractor`.
        saliency_networks, fixation_selection_networks, finalizers: one per component.
        scanpath_networks: one per component, or ``None`` for a model that
            ignores the fixation history (DeepGaze IIE).
        downsample: the image is shrunk by this factor before the backbone.
        readout_factor: the readout grid is ``ceil(H / downsample / readout_factor)``
            x ``ceil(W / downsample / readout_factor)``.

    ``forward(images, centerbias, x_hist=None, y_hist=None)`` returns
    N x 1 x H x W log-densities.
    """

    def __init__(
        self,
        features: FeatureExtractor,
        saliency_networks: Sequence[nn.Module],
        fixation_selection_networks: Sequence[nn.Module],
        finalizers: Sequence[Finalizer],
        scanpath_networks: Sequence[nn.Module] | None = None,
        downsample: int = 2,
        readout_factor: int = 4,
    ):
        super().__init__()
        self.downsample = downsample
        self.readout_factor = readout_factor
        self.features = features
        self.saliency_networks = nn.ModuleList(saliency_networks)
        if scanpath_networks is not None:
            self.scanpath_networks = nn.ModuleList(scanpath_networks)
        else:
            self.scanpath_networks = None
        self.fixation_selection_networks = nn.ModuleList(fixation_selection_networks)
        self.finalizers = nn.ModuleList(finalizers)

    def readout_size(self, height: int, width: int) -> list[int]:
        return [
            math.ceil(height / self.downsample / self.readout_factor),
            math.ceil(width / self.downsample / self.readout_factor),
        ]

    def forward(self, images: torch.Tensor, centerbias: torch.Tensor,
                x_hist: torch.Tensor | None = None, y_hist: torch.Tensor | None = None) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(
                f"images must be N x 3 x H x W (RGB, 0..255), got {tuple(images.shape)}"
            )
        height, width = images.shape[2:]
        if tuple(centerbias.shape) != (images.shape[0], height, width):
            raise ValueError(
                f"centerbias must be N x H x W = {(images.shape[0], height, width)} "
                f"(a log-density per image), got {tuple(centerbias.shape)}"
            )
        readout_size = self.readout_size(height, width)
        small = F.interpolate(
            images, scale_factor=1 / self.downsample, recompute_scale_factor=False
        )
        maps = [F.interpolate(m, size=readout_size) for m in self.features(small)]
        readout_input = torch.cat(maps, dim=1)

        encoded = None
        if self.scanpath_networks is not None:
            if x_hist is None or y_hist is None:
                raise ValueError(
                    "this model needs the fixation history: pass x_hist and y_hist "
                    "(N x F, pixels, most recent first; NaN where a fixation is missing)"
                )
            fixations = self.scanpath_networks[0].encoding0.in_fixations
            x_hist = torch.as_tensor(x_hist, dtype=torch.float32, device=images.device)
            y_hist = torch.as_tensor(y_hist, dtype=torch.float32, device=images.device)
            expected = (images.shape[0], fixations)
            if tuple(x_hist.shape) != expected or tuple(y_hist.shape) != expected:
                raise ValueError(
                    f"x_hist and y_hist must be N x {fixations} = {expected}, got "
                    f"{tuple(x_hist.shape)} and {tuple(y_hist.shape)}"
                )
            encoded = encode_scanpath(x_hist, y_hist, (height, width), readout_size)
            encoded = encoded.to(readout_input.dtype)

        shared = all(isinstance(net, SaliencyNetwork) for net in self.saliency_networks)
        if shared:  # normalise the (large) readout input once for all components
            eps = self.saliency_networks[0].layernorm0.eps
            normalized = F.layer_norm(readout_input, readout_input.shape[1:], eps=eps)

        predictions = []
        for index, (saliency, selection, finalizer) in enumerate(
            zip(self.saliency_networks, self.fixation_selection_networks, self.finalizers)
        ):
            x = saliency.from_normalized(normalized) if shared else saliency(readout_input)
            y = self.scanpath_networks[index](encoded) if encoded is not None else None
            x = selection((x, y))
            predictions.append(finalizer(x, centerbias).unsqueeze(1))
        stacked = torch.cat(predictions, dim=1) - math.log(len(predictions))
        return stacked.logsumexp(dim=1, keepdim=True)
