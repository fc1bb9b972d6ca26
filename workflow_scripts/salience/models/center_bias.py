"""Center biases: reading and checking the files, and the log-density a model adds.

Two kinds of file exist:

- a *probability map* (H x W, any size, non-negative, positive sum): a
  ``.npy`` array or a torch-saved tensor (``.pt``); DeepGaze MR's LEDOV
  center bias and any map a user gives (config ``center_bias``);
- a *log-density template* (``.npy``): the MIT1003 center bias of DeepGaze
  IIE/III, 1024 x 1024.

At frame size either becomes an H x W log-density (``logsumexp`` 0).
**Zero pixels** of a probability map get a floor of one millionth of the
uniform density (:data:`ZERO_PIXEL_FLOOR`) before the logarithm, so a map
that rules a pixel out makes it very unlikely, never ``-inf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError

#: Density given to pixels where a probability map is 0, relative to a uniform map.
ZERO_PIXEL_FLOOR = 1e-6


def read_map(path: str | Path, config_key: str = "center_bias") -> np.ndarray:
    """The 2-D array in a ``.npy`` file or a torch-saved tensor, loaded without pickle."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"center bias file {path} does not exist (config '{config_key}'); "
                          "give an existing .npy/.pt file, 'default' or 'uniform'")
    with open(path, "rb") as handle:
        is_npy = handle.read(6) == b"\x93NUMPY"
    try:
        if is_npy:
            array = np.load(path, allow_pickle=False)
        else:
            import torch

            array = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(array, torch.Tensor):
                raise ValueError(f"it holds a {type(array).__name__}, not a tensor")
            array = array.numpy()
    except Exception as error:  # not an array file, truncated, pickled objects
        raise ConfigError(
            f"{path} is not a readable center bias (config '{config_key}': {error}); give a "
            ".npy array (numpy.save) or a tensor saved with torch.save"
        ) from None
    if array.ndim != 2 or array.dtype.kind not in "fiu" or 0 in array.shape:
        raise ConfigError(f"{path}: a center bias must be a 2-D numeric H x W map, got "
                          f"{array.dtype} of shape {array.shape} (config '{config_key}')")
    return array


def check_probability_map(array: np.ndarray, path, config_key: str = "center_bias") -> np.ndarray:
    """Refuse a map that is not finite, has negative values or sums to 0; return it as float64."""
    array = np.asarray(array, dtype=np.float64)
    problem = None
    if not np.isfinite(array).all():
        problem = "it has NaN or infinite values"
    elif (array < 0).any():
        problem = "it has negative values (a log-density? give probabilities)"
    elif array.sum() <= 0:
        problem = "it sums to 0"
    if problem:
        raise ConfigError(f"{path}: a center bias must be a probability map, but {problem} "
                          f"(config '{config_key}')")
    return array


def check_center_bias_file(spec: str | Path, config_key: str = "center_bias") -> Path:
    """A user's probability-map file, fully checked (the DAG build runs this)."""
    path = Path(spec).expanduser()
    check_probability_map(read_map(path, config_key), path, config_key)
    return path


@dataclass(frozen=True)
class CenterBias:
    """A center bias as loaded for prediction: ``kind`` is "uniform", "probability" or "log_density"."""

    kind: str
    array: np.ndarray | None = None

    def log_density(self, height: int, width: int):
        """The H x W log-density (torch float32) at frame size."""
        if self.kind == "uniform":
            return uniform_log_density(height, width)
        if self.kind == "probability":
            return log_density_from_probability(self.array, height, width)
        return log_density_from_template(self.array, height, width)


UNIFORM = CenterBias("uniform")


def load_center_bias(path: str | Path, file_format: str) -> CenterBias:
    """A recorded center-bias file (format "probability_map" or "log_density_npy")."""
    array = read_map(path)
    if file_format == "log_density_npy":
        if not np.isfinite(array).all():
            raise ConfigError(f"{path}: the log-density template has NaN or infinite values")
        return CenterBias("log_density", array.astype(np.float64))
    return CenterBias("probability", check_probability_map(array, path))


def as_log_density(center_bias, height: int, width: int):
    """None (uniform), a :class:`CenterBias`, or a probability map → H x W log-density."""
    if center_bias is None:
        return uniform_log_density(height, width)
    if isinstance(center_bias, CenterBias):
        return center_bias.log_density(height, width)
    return log_density_from_probability(center_bias, height, width)


def uniform_log_density(height: int, width: int):
    """No center bias: every pixel equally likely."""
    import torch

    return torch.full((height, width), -math.log(height * width))


def log_density_from_probability(center_bias, height: int, width: int):
    """An H x W probability map (any size) → log-density at frame size.

    Resized with nearest-neighbour sampling (as the DeepGaze MR reference
    does) and renormalized; zero pixels get :data:`ZERO_PIXEL_FLOOR`. Every
    model here normalizes its output last, so renormalizing a map that
    already sums to 1 changes nothing.
    """
    import torch
    import torch.nn.functional as F

    center_bias = torch.as_tensor(center_bias).cpu().double()
    if center_bias.ndim == 2 and center_bias.numel() and center_bias.max() > 0:
        # A map's scale is free: scaled to a peak of 1 in float64, values
        # beyond float32's range (up to 3.4e38) keep their proportions.
        center_bias = center_bias / center_bias.max()
    center_bias = center_bias.float()
    if center_bias.ndim != 2:
        raise ValueError(f"center bias must be an H x W map, got shape {tuple(center_bias.shape)}")
    if tuple(center_bias.shape) != (height, width):
        center_bias = F.interpolate(center_bias[None, None], size=(height, width))[0, 0]
    center_bias = center_bias / center_bias.sum()
    if not bool((center_bias > 0).all()):
        floor = ZERO_PIXEL_FLOOR / (height * width)
        center_bias = torch.where(center_bias > 0, center_bias, torch.tensor(floor))
        center_bias = center_bias / center_bias.sum()
    return center_bias.log()


def log_density_from_template(template, height: int, width: int):
    """A 2-D log-density template (MIT1003: 1024 x 1024) → log-density at frame size (float32).

    Resized with nearest-neighbour sampling and renormalised so that
    ``logsumexp`` is 0. The authors' notebook uses
    ``scipy.ndimage.zoom(order=0)``; PyTorch's ``"nearest-exact"`` mode is
    used here (pixel-centre aligned and symmetric like scipy's, no scipy
    dependency). The two pick at most one template pixel differently per
    row/column, which on this smooth template changes values negligibly.
    """
    import torch
    import torch.nn.functional as F

    if height < 1 or width < 1:
        raise ValueError(f"center bias size must be positive, got {height} x {width}")
    grid = torch.from_numpy(np.ascontiguousarray(template, dtype=np.float64))[None, None]
    resized = F.interpolate(grid, size=(int(height), int(width)), mode="nearest-exact")[0, 0]
    resized = resized - torch.logsumexp(resized.flatten(), dim=0)
    return resized.float()


def centerbias_mit1003(height: int, width: int, template: str | Path | np.ndarray) -> np.ndarray:
    """The MIT1003 template (a ``.npy`` path or the array) as a float32 H x W log-density."""
    if not isinstance(template, np.ndarray):
        template = load_center_bias(template, "log_density_npy").array
    return log_density_from_template(template, height, width).numpy()
