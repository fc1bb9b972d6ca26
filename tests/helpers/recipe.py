"""The fixtures' weight recipe (../shared/fixtures/README.md), shared by the model tests."""

from __future__ import annotations

import numpy as np
import torch


def fill_with_recipe(model: torch.nn.Module, seed: int) -> None:
    """Fill every parameter and buffer of ``model`` as the fixtures' recipe says."""
    rng = np.random.Generator(np.random.PCG64(seed))
    state = model.state_dict()
    filled = {}
    for key in sorted(state):
        tensor = state[key]
        leaf = key.rsplit(".", 1)[-1]
        shape = tuple(tensor.shape)
        if not tensor.is_floating_point() or leaf == "grid":
            filled[key] = tensor
            continue
        if leaf == "sigma":
            values = tensor.double().numpy() * rng.uniform(0.75, 1.25, shape)
        elif leaf == "center_bias_weight":
            values = rng.uniform(0.5, 1.5, shape)
        elif leaf == "running_mean":
            values = rng.standard_normal(shape) * 0.1
        elif leaf == "running_var":
            values = rng.uniform(0.5, 1.5, shape)
        elif len(shape) >= 2:
            values = rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))
        elif leaf == "weight":
            values = rng.uniform(0.8, 1.2, shape)
        else:
            values = rng.standard_normal(shape) * 0.05
        filled[key] = torch.from_numpy(np.asarray(values, dtype=np.float64)).to(tensor.dtype)
    model.load_state_dict(filled, strict=True)


def manifest(fixture) -> dict[str, tuple[int, ...]]:
    """The reference's state_dict keys and shapes, from a fixture npz."""
    return {
        str(key): tuple(int(d) for d in str(shape).split(",") if d)
        for key, shape in zip(fixture["manifest_keys"], fixture["manifest_shapes"])
    }
