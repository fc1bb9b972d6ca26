"""Layers shared by DeepGaze IIE and DeepGaze III (the mixture is in ``mixture.py``).

Both models follow one pattern (Kümmerer et al.; reference implementation
https://github.com/matthias-k/DeepGaze, ``deepgaze_pytorch``):

1. the image (0..255) is downsampled by 2 (nearest), ImageNet-normalised and
   passed through a frozen ImageNet backbone; forward hooks collect a few
   intermediate feature maps (:class:`FeatureExtractor`);
2. the maps are resized (nearest) to a coarse "readout" grid and concatenated;
3. each of several readout *components* maps them to one channel through small
   1x1-convolution networks with layer norm and softplus (the *saliency
   network*); DeepGaze III adds a *scanpath network* that encodes the previous
   fixations, and a *fixation selection network* combines both;
4. a :class:`Finalizer` per component upsamples the readout, blurs it with a
   learned Gaussian, adds the weighted log center bias and normalises to a
   log-density;
5. the components are averaged as probability densities (``logsumexp`` minus
   ``log(n)``): :class:`DeepGazeMixture`.

Submodule and parameter names reproduce the reference's ``state_dict`` keys
exactly, so the official checkpoints load with ``strict=True``. Numerical
conventions (nearest-neighbour resizing with PyTorch's index rule, replicate
padding of the blur, ``eps=1e-12`` in layer norm) follow the reference too.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


# ---------------------------------------------------------------------------
# Input normalisation and feature extraction
# ---------------------------------------------------------------------------


class ImageNormalizer(nn.Module):
    """Scale 0..255 RGB to 0..1, then standardise with the ImageNet mean and std.

    The statistics are float64 buffers that are not saved in the state dict
    (as in the reference, whose checkpoints do not contain them).
    """

    def __init__(self):
        super().__init__()
        mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images / 255.0
        x -= self.mean  # in place: the result keeps the input's dtype
        x /= self.std
        return x


class _FeaturesCollected(Exception):
    """Raised by a hook once every requested layer has produced its output."""


class FeatureExtractor(nn.Module):
    """Run ``nn.Sequential(normalizer, backbone)`` and return the outputs of named layers.

    Args:
        backbone: an ImageNet network; it becomes ``features[1]`` so that its
            parameters are named ``features.1.<name in backbone>``.
        targets: layer names relative to ``features`` (``"1.layer3.5.conv1"``).
            Their outputs are returned in this order; each is cloned, since a
            later in-place activation may overwrite it.

    The forward hooks that collect the outputs exist only during ``forward``
    (so the module can be deep-copied and pickled), and the backbone stops as
    soon as all targets have been seen: the layers after the last target, e.g.
    the classifier, cannot influence the result. The backbone is frozen: its
    parameters do not require gradients and it stays in eval mode.
    """

    def __init__(self, backbone: nn.Module, targets: Sequence[str]):
        super().__init__()
        self.features = nn.Sequential(ImageNormalizer(), backbone)
        self.targets = list(targets)
        modules = dict(self.features.named_modules())
        missing = [target for target in self.targets if target not in modules]
        if missing:
            raise ValueError(f"backbone has no layer(s) named {', '.join(missing)}")
        for parameter in self.features.parameters():
            parameter.requires_grad = False
        self.features.eval()

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        outputs: dict[str, torch.Tensor] = {}
        count = len(self.targets)

        def recorder(target):
            def record(_module, _inputs, output):
                outputs[target] = output.clone()
                if len(outputs) == count:
                    raise _FeaturesCollected

            return record

        modules = dict(self.features.named_modules())
        handles = [modules[t].register_forward_hook(recorder(t)) for t in self.targets]
        try:
            self.features(images)
        except _FeaturesCollected:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return [outputs[target] for target in self.targets]

    def train(self, mode: bool = True):
        super().train(mode)
        self.features.eval()  # frozen backbone: batch norms keep their statistics
        return self


# ---------------------------------------------------------------------------
# Readout layers
# ---------------------------------------------------------------------------


class LayerNorm(nn.Module):
    """Layer norm over channels *and* space of an N x C x H x W map, with per-channel affine.

    Statistics are taken over all of C x H x W for each sample; ``weight`` and
    ``bias`` have C entries and are broadcast over space.
    """

    def __init__(self, channels: int, eps: float = 1e-12):
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.affine(F.layer_norm(x, x.shape[1:], eps=self.eps))

    def affine(self, normalized: torch.Tensor) -> torch.Tensor:
        """The learned per-channel scale and shift, applied to a normalised map."""
        return normalized * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.channels}, eps={self.eps}"


class Bias(nn.Module):
    """Add a learned per-channel offset."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class MultiInputLayerNorm(nn.Module):
    """Apply a separate :class:`LayerNorm` to each tensor of a tuple.

    ``channels[k] == 0`` marks an input that is absent (``None``); it gets no
    parameters and stays ``None``. Submodules are ``layernorm_part<k>``.
    """

    def __init__(self, channels: Sequence[int], eps: float = 1e-12):
        super().__init__()
        self.channels = list(channels)
        for k, count in enumerate(self.channels):
            if count:
                self.add_module(f"layernorm_part{k}", LayerNorm(count, eps=eps))

    def forward(self, inputs):
        if len(inputs) != len(self.channels):
            raise ValueError(f"expected {len(self.channels)} inputs, got {len(inputs)}")
        return tuple(
            getattr(self, f"layernorm_part{k}")(x) if count else None
            for k, (count, x) in enumerate(zip(self.channels, inputs))
        )


class MultiInputConv2d(nn.Module):
    """Sum of one convolution per input tensor (a convolution of their concatenation).

    ``channels[k] == 0`` marks an absent input. Submodules are ``conv_part<k>``.
    """

    def __init__(self, channels: Sequence[int], out_channels: int, kernel_size, bias: bool = True):
        super().__init__()
        self.channels = list(channels)
        self.out_channels = out_channels
        for k, count in enumerate(self.channels):
            if count:
                self.add_module(
                    f"conv_part{k}", nn.Conv2d(count, out_channels, kernel_size, bias=bias)
                )

    def forward(self, inputs):
        if len(inputs) != len(self.channels):
            raise ValueError(f"expected {len(self.channels)} inputs, got {len(inputs)}")
        total = None
        for k, (count, x) in enumerate(zip(self.channels, inputs)):
            if not count:
                continue
            part = getattr(self, f"conv_part{k}")(x)
            total = part if total is None else total + part
        return total


class SaliencyNetwork(nn.Sequential):
    """Three 1x1 layers, ``in_channels`` -> 8 -> 16 -> 1, each: layer norm, conv, bias, softplus.

    Besides the plain sequential ``forward``, :meth:`from_normalized` takes the
    input already layer-normalised without affine. The statistics of the first
    layer norm depend only on the input, so a model with many components
    normalises its large readout input once and each component applies only
    its own affine: the same operations, bit for bit, with one normalisation
    instead of one per component (DeepGaze III at 720p: about 25 % less CPU time).
    """

    def __init__(self, in_channels: int, final_name: str = "softplus2"):
        layers = OrderedDict()
        for index, (cin, cout) in enumerate([(in_channels, 8), (8, 16), (16, 1)]):
            layers[f"layernorm{index}"] = LayerNorm(cin)
            layers[f"conv{index}"] = nn.Conv2d(cin, cout, 1, bias=False)
            layers[f"bias{index}"] = Bias(cout)
            layers[final_name if index == 2 else f"softplus{index}"] = nn.Softplus()
        super().__init__(layers)

    def from_normalized(self, normalized: torch.Tensor) -> torch.Tensor:
        """Same as ``forward(x)``, given ``F.layer_norm(x, x.shape[1:], eps=1e-12)``."""
        x = self.layernorm0.affine(normalized)
        for module in list(self)[1:]:
            x = module(x)
        return x


def saliency_network(in_channels: int, final_name: str = "softplus2") -> SaliencyNetwork:
    """A :class:`SaliencyNetwork`. Parameter-free module names do not affect the
    state dict; the IIE reference happens to call the last softplus ``softplus3``."""
    return SaliencyNetwork(in_channels, final_name)


def fixation_selection_network(scanpath_channels: int) -> nn.Sequential:
    """Combine the saliency readout (1 channel) with scanpath features into one channel.

    ``scanpath_channels == 0`` (DeepGaze IIE) means there is no scanpath input.
    Layout: per-input layer norm, per-input 1x1 conv summed to 128 channels,
    bias, softplus, layer norm, 1x1 conv to 16, bias, softplus, 1x1 conv to 1.
    """
    inputs = [1, scanpath_channels]
    return nn.Sequential(
        OrderedDict(
            [
                ("layernorm0", MultiInputLayerNorm(inputs)),
                ("conv0", MultiInputConv2d(inputs, 128, 1, bias=False)),
                ("bias0", Bias(128)),
                ("softplus0", nn.Softplus()),
                ("layernorm1", LayerNorm(128)),
                ("conv1", nn.Conv2d(128, 16, 1, bias=False)),
                ("bias1", Bias(16)),
                ("softplus1", nn.Softplus()),
                ("conv2", nn.Conv2d(16, 1, 1, bias=False)),
            ]
        )
    )


# ---------------------------------------------------------------------------
# Scanpath encoding (DeepGaze III)
# ---------------------------------------------------------------------------


def _nearest_source_coordinates(size: int, out_size: int, device) -> torch.Tensor:
    """Pixel coordinates (float32) that nearest resizing of ``size`` -> ``out_size`` picks."""
    grid = torch.arange(size, dtype=torch.float32, device=device).view(1, 1, 1, size)
    return F.interpolate(grid, size=(1, out_size)).view(out_size)


def encode_scanpath(
    x_hist: torch.Tensor,
    y_hist: torch.Tensor,
    image_size: Sequence[int],
    readout_size: Sequence[int],
) -> torch.Tensor:
    """Relative position of each readout cell to each previous fixation.

    Returns N x 3F x h x w: channels ``[dx_1..dx_F, dy_1..dy_F, dist_1..dist_F]``
    with ``dx = x - x_hist`` in image pixels. The reference builds these maps at
    full image resolution and then resizes them (nearest) to the readout grid;
    here the same pixel coordinates are picked first, which gives identical
    values at a fraction of the memory. A missing fixation (NaN) gives NaN maps.
    """
    height, width = image_size
    out_h, out_w = readout_size
    dtype = torch.float32
    ys = _nearest_source_coordinates(height, out_h, x_hist.device)
    xs = _nearest_source_coordinates(width, out_w, x_hist.device)
    dx = xs.view(1, 1, 1, out_w) - x_hist.to(dtype)[:, :, None, None]
    dy = ys.view(1, 1, out_h, 1) - y_hist.to(dtype)[:, :, None, None]
    dx, dy = torch.broadcast_tensors(dx, dy)
    distance = torch.sqrt(dx**2 + dy**2)
    return torch.cat((dx, dy, distance), dim=1)


class ScanpathHistoryEncoding(nn.Module):
    """One 1x1 convolution per previous fixation, summed over the fixations that exist.

    Input: N x (channels_per_fixation * F) x h x w from :func:`encode_scanpath`
    (channel ``c * F + f`` is feature ``c`` of fixation ``f``). Fixations that are
    NaN are skipped, per sample, bias included. Submodules: ``convolutions.<f>``.

    Where no sample has any fixation the result is all zeros (the reference
    raises an error in that case).
    """

    def __init__(self, in_fixations: int, channels_per_fixation: int, out_channels: int):
        super().__init__()
        self.in_fixations = in_fixations
        self.channels_per_fixation = channels_per_fixation
        self.out_channels = out_channels
        self.convolutions = nn.ModuleList(
            nn.Conv2d(channels_per_fixation, out_channels, 1, bias=True)
            for _ in range(in_fixations)
        )

    def forward(self, encoded: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = encoded.shape
        present = ~torch.isnan(encoded[:, : self.in_fixations, 0, 0])
        result = encoded.new_zeros((batch, self.out_channels, height, width))
        for index, conv in enumerate(self.convolutions):
            rows = present[:, index]
            if not bool(rows.any()):
                continue
            contribution = conv(encoded[rows, index :: self.in_fixations])
            result[rows] = result[rows] + contribution
        return result


def scanpath_network(in_fixations: int = 4) -> nn.Sequential:
    """Encode F previous fixations (dx, dy, distance each) into 16 channels."""
    return nn.Sequential(
        OrderedDict(
            [
                ("encoding0", ScanpathHistoryEncoding(in_fixations, 3, 128)),
                ("softplus0", nn.Softplus()),
                ("layernorm1", LayerNorm(128)),
                ("conv1", nn.Conv2d(128, 16, 1, bias=False)),
                ("bias1", Bias(16)),
                ("softplus1", nn.Softplus()),
            ]
        )
    )


# ---------------------------------------------------------------------------
# Blur and finalizer
# ---------------------------------------------------------------------------


class GaussianBlur2d(nn.Module):
    """Separable Gaussian blur over H and W of an N x C x H x W tensor, learnable ``sigma``.

    The kernel has ``2 * ceil(truncate * sigma) + 1`` taps (so its size follows
    ``sigma``), is normalised to sum 1, and the borders are padded by
    replicating the edge values. H is blurred first, then W.
    """

    def __init__(self, sigma: float, truncate: float = 3, trainable: bool = True):
        super().__init__()
        self.sigma = nn.Parameter(torch.tensor(sigma, dtype=torch.float32), requires_grad=trainable)
        self.truncate = truncate

    def kernel(self, dtype=None) -> torch.Tensor:
        sigma = self.sigma if dtype is None else self.sigma.to(dtype)
        size = int((2 * torch.ceil(self.truncate * sigma.detach()) + 1).item())
        offsets = torch.arange(size, device=sigma.device, dtype=sigma.dtype) - (size - 1) / 2
        kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
        return kernel / kernel.sum()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        kernel = self.kernel(x.dtype)
        radius = (kernel.numel() - 1) // 2
        x = x.reshape(batch * channels, 1, height, width)
        x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
        x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
        return x.reshape(batch, channels, height, width)

    def extra_repr(self) -> str:
        return f"truncate={self.truncate}"


class Finalizer(nn.Module):
    """Turn a one-channel readout into a log-density at image resolution.

    Steps: downscale the center bias by ``saliency_map_factor`` (nearest);
    resize the readout to that grid (nearest); blur (``gauss``); add
    ``center_bias_weight`` x center bias; resize to the image (nearest);
    subtract the ``logsumexp`` so each map sums to 1 as a density.
    """

    def __init__(
        self, sigma: float = 8.0, saliency_map_factor: int = 4, center_bias_weight: float = 1.0
    ):
        super().__init__()
        self.saliency_map_factor = saliency_map_factor
        self.gauss = GaussianBlur2d(sigma, truncate=3, trainable=True)
        self.center_bias_weight = nn.Parameter(
            torch.tensor([center_bias_weight], dtype=torch.float32)
        )

    def forward(self, readout: torch.Tensor, centerbias: torch.Tensor) -> torch.Tensor:
        height, width = centerbias.shape[1:]
        small_bias = F.interpolate(
            centerbias.unsqueeze(1),
            scale_factor=1 / self.saliency_map_factor,
            recompute_scale_factor=False,
        )[:, 0]
        x = F.interpolate(readout, size=list(small_bias.shape[1:]))
        x = self.gauss(x)[:, 0]
        x = x + self.center_bias_weight * small_bias
        x = F.interpolate(x.unsqueeze(1), size=[height, width])[:, 0]
        return x - x.logsumexp(dim=(1, 2), keepdim=True)
