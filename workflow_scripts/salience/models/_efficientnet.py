"""EfficientNet-B5 with the parameter names of lukemelas' EfficientNet-PyTorch.

DeepGaze IIE uses EfficientNet-B5 as one of its four backbones. The authors took
it from a vendored copy of ``efficientnet_pytorch`` (version 0.6.3,
https://github.com/lukemelas/EfficientNet-PyTorch), so the DeepGaze IIE
checkpoint names its tensors the way that package does (``_conv_stem``,
``_blocks.<i>._depthwise_conv``, ``_bn0`` ...). torchvision's EfficientNet uses
different names and a different padding rule, hence this port.

Architecture facts that matter for reproducing the authors' numbers:

* Convolutions use TensorFlow-style "same" padding that is computed **once**, for
  the nominal B5 input size of 456 x 456, and then applied unchanged whatever
  the real input size (``efficientnet_pytorch`` builds its layers this way when
  ``image_size`` is set, which ``from_pretrained`` does). A stride-2 3 x 3
  convolution therefore always pads 0 pixels before and 1 after, a stride-2
  5 x 5 one 1 before and 2 after, on every feature map.
* Batch norms use ``eps=1e-3`` and ``momentum=0.01``.
* The activation is swish, ``x * sigmoid(x)``; every block has squeeze-and-excite
  with ratio 0.25 of the block's input channels.
* Width x1.6 and depth x2.2 (B5) give 39 MBConv blocks; the classifier head
  (``_conv_head``, ``_bn1``, ``_fc``) is kept so that checkpoints load strictly,
  although DeepGaze only reads intermediate block outputs.

Only inference matters here, but drop-connect (stochastic depth) in training
mode is kept for completeness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["EfficientNet", "efficientnet_b5"]


@dataclass(frozen=True)
class _Stage:
    """One stage of the EfficientNet-B0 template, before width/depth scaling."""

    kernel_size: int
    stride: int
    expand_ratio: int
    in_channels: int
    out_channels: int
    repeats: int
    se_ratio: float = 0.25


# The B0 template (Tan & Le, 2019); every EfficientNet scales it.
_B0_STAGES = (
    _Stage(3, 1, 1, 32, 16, 1),
    _Stage(3, 2, 6, 16, 24, 2),
    _Stage(5, 2, 6, 24, 40, 2),
    _Stage(3, 2, 6, 40, 80, 3),
    _Stage(5, 1, 6, 80, 112, 3),
    _Stage(5, 2, 6, 112, 192, 4),
    _Stage(3, 1, 6, 192, 320, 1),
)

# name: (width multiplier, depth multiplier, nominal resolution, dropout)
_SCALING = {"efficientnet-b5": (1.6, 2.2, 456, 0.4)}

_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01  # PyTorch convention: 1 - TensorFlow's decay of 0.99
_DIVISOR = 8
_DROP_CONNECT_RATE = 0.2


def _scale_width(channels: int, multiplier: float) -> int:
    """Channels scaled by ``multiplier``, rounded to a multiple of 8 (never down by >10 %)."""
    scaled = channels * multiplier
    rounded = max(_DIVISOR, int(scaled + _DIVISOR / 2) // _DIVISOR * _DIVISOR)
    if rounded < 0.9 * scaled:
        rounded += _DIVISOR
    return int(rounded)


def _scale_depth(repeats: int, multiplier: float) -> int:
    return math.ceil(multiplier * repeats)


def _swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class StaticSamePaddingConv2d(nn.Conv2d):
    """A convolution zero-padded "same" as TensorFlow would pad an ``image_size`` input.

    The padding is fixed at construction from ``image_size`` and this layer's
    kernel and stride, and used for every input, as ``efficientnet_pytorch``'s
    ``Conv2dStaticSamePadding`` does. The padding lives in ``static_padding``
    (``nn.ZeroPad2d`` or ``nn.Identity``), which has no parameters.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        image_size: int,
        stride: int = 1,
        groups: int = 1,
        bias: bool = True,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, groups=groups, bias=bias
        )
        pads = []
        for size, kernel, step, dilation in zip(
            (image_size, image_size), self.kernel_size, self.stride, self.dilation
        ):
            out = math.ceil(size / step)
            pads.append(max((out - 1) * step + (kernel - 1) * dilation + 1 - size, 0))
        pad_h, pad_w = pads
        if pad_h or pad_w:
            # ZeroPad2d takes (left, right, top, bottom); the odd pixel goes after.
            self.static_padding = nn.ZeroPad2d(
                (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
            )
        else:
            self.static_padding = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.static_padding(x))


class MBConvBlock(nn.Module):
    """Mobile inverted bottleneck: expand (1x1), depthwise (kxk), squeeze-excite, project (1x1).

    Submodule names follow ``efficientnet_pytorch``: ``_expand_conv``/``_bn0``
    (absent when ``expand_ratio == 1``), ``_depthwise_conv``/``_bn1``,
    ``_se_reduce``/``_se_expand``, ``_project_conv``/``_bn2``. The residual is
    added when the block keeps resolution and width.
    """

    def __init__(self, stage: _Stage, image_size: int):
        super().__init__()
        self.stage = stage
        hidden = stage.in_channels * stage.expand_ratio
        if stage.expand_ratio != 1:
            self._expand_conv = StaticSamePaddingConv2d(
                stage.in_channels, hidden, 1, image_size=image_size, bias=False
            )
            self._bn0 = nn.BatchNorm2d(hidden, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self._depthwise_conv = StaticSamePaddingConv2d(
            hidden,
            hidden,
            stage.kernel_size,
            image_size=image_size,
            stride=stage.stride,
            groups=hidden,
            bias=False,
        )
        self._bn1 = nn.BatchNorm2d(hidden, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        squeezed = max(1, int(stage.in_channels * stage.se_ratio))
        self._se_reduce = StaticSamePaddingConv2d(hidden, squeezed, 1, image_size=image_size)
        self._se_expand = StaticSamePaddingConv2d(squeezed, hidden, 1, image_size=image_size)
        self._project_conv = StaticSamePaddingConv2d(
            hidden, stage.out_channels, 1, image_size=image_size, bias=False
        )
        self._bn2 = nn.BatchNorm2d(stage.out_channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self.has_residual = stage.stride == 1 and stage.in_channels == stage.out_channels

    def forward(self, inputs: torch.Tensor, drop_connect_rate: float = 0.0) -> torch.Tensor:
        x = inputs
        if self.stage.expand_ratio != 1:
            x = _swish(self._bn0(self._expand_conv(x)))
        x = _swish(self._bn1(self._depthwise_conv(x)))
        gate = F.adaptive_avg_pool2d(x, 1)
        gate = self._se_expand(_swish(self._se_reduce(gate)))
        x = torch.sigmoid(gate) * x
        x = self._bn2(self._project_conv(x))
        if self.has_residual:
            if drop_connect_rate and self.training:
                keep = 1.0 - drop_connect_rate
                mask = torch.floor(
                    keep + torch.rand((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device)
                )
                x = x / keep * mask
            x = x + inputs
        return x


class EfficientNet(nn.Module):
    """EfficientNet classifier laid out as in ``efficientnet_pytorch``.

    Args:
        name: the variant; only ``"efficientnet-b5"`` is defined here.
        num_classes: outputs of the final linear layer ``_fc``.

    Parameters are randomly initialised (PyTorch defaults); load a checkpoint
    to use it. The forward pass returns class logits; DeepGaze reads
    intermediate outputs with forward hooks instead.
    """

    def __init__(self, name: str = "efficientnet-b5", num_classes: int = 1000):
        super().__init__()
        width, depth, image_size, dropout = _SCALING[name]
        self.name = name
        self.image_size = image_size

        stem_channels = _scale_width(32, width)
        self._conv_stem = StaticSamePaddingConv2d(
            3, stem_channels, 3, image_size=image_size, stride=2, bias=False
        )
        self._bn0 = nn.BatchNorm2d(stem_channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)

        self._blocks = nn.ModuleList()
        for template in _B0_STAGES:
            stage = replace(
                template,
                in_channels=_scale_width(template.in_channels, width),
                out_channels=_scale_width(template.out_channels, width),
                repeats=_scale_depth(template.repeats, depth),
            )
            # The first block of a stage changes width and stride; the rest keep both.
            self._blocks.append(MBConvBlock(stage, image_size))
            repeat = replace(stage, in_channels=stage.out_channels, stride=1)
            for _ in range(stage.repeats - 1):
                self._blocks.append(MBConvBlock(repeat, image_size))

        head_in = stage.out_channels
        head_channels = _scale_width(1280, width)
        self._conv_head = StaticSamePaddingConv2d(
            head_in, head_channels, 1, image_size=image_size, bias=False
        )
        self._bn1 = nn.BatchNorm2d(head_channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(head_channels, num_classes)

    def extract_features(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the head convolution (after batch norm and swish)."""
        x = _swish(self._bn0(self._conv_stem(x)))
        count = len(self._blocks)
        for index, block in enumerate(self._blocks):
            # Stochastic depth grows linearly with depth (training only).
            x = block(x, drop_connect_rate=_DROP_CONNECT_RATE * index / count)
        return _swish(self._bn1(self._conv_head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.extract_features(x)
        x = self._avg_pooling(x).flatten(1)
        return self._fc(self._dropout(x))


def efficientnet_b5(num_classes: int = 1000) -> EfficientNet:
    """EfficientNet-B5 (width 1.6, depth 2.2, nominal input 456 px), untrained."""
    return EfficientNet("efficientnet-b5", num_classes=num_classes)
