"""Model ports and their builder.

``build_model(name, weights=None)`` returns a model in eval mode:

- ``weights=None``: untrained (random init), for tests and benchmarks only.
- ``weights="official"``: the authors' checkpoint, downloaded once and verified.
- ``weights=<path>``: a checkpoint file on disk (offline compute nodes).
"""

from __future__ import annotations

import importlib
from pathlib import Path

# name -> (module, builder function). Modules load lazily: building one model
# never imports the other architectures.
_BUILDERS = {
    "deepgaze_mr": ("salience.models.deepgaze_mr", "deepgaze_mr"),
    "deepgaze_iie": ("salience.models.deepgaze_iie", "deepgaze_iie"),
    "deepgaze_iii": ("salience.models.deepgaze_iii", "deepgaze_iii"),
}

MODEL_NAMES = tuple(_BUILDERS)

# Models that look at a window of past frames, and how many frames that
# window holds. Per-frame models (IIE, III) need no warm-up.
TEMPORAL_WINDOW = {"deepgaze_mr": 16, "deepgaze_iie": 1, "deepgaze_iii": 1}


# The official files each model needs (keys of salience.weights.OFFICIAL_FILES):
# the checkpoint first, then the center bias it was trained with.
OFFICIAL_FILES_OF = {
    "deepgaze_mr": ("deepgaze_mr", "centerbias_ledov"),
    "deepgaze_iie": ("deepgaze_iie", "centerbias_mit1003"),
    "deepgaze_iii": ("deepgaze_iii", "centerbias_mit1003"),
}


UNTRAINED_SEED = 0


def build_model(name: str, weights: str | Path | None = None, **kwargs):
    """Build model ``name`` with ``weights`` (None, "official" or a path)."""
    try:
        module_name, function_name = _BUILDERS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}"
        ) from None
    builder = getattr(importlib.import_module(module_name), function_name)
    if weights is not None:
        return builder(weights=weights, **kwargs)
    # Untrained models are seeded: every job of a run (and every chunk) then
    # computes with the same random weights, so chunked runs stay comparable.
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        return builder(weights=None, **kwargs)
