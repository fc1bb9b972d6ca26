"""The model registry and the builder.

Every fact about a model lives in its description (``models/cards/<name>.py``,
torch-free) and is read from :data:`MODELS`; adding a model means one card
and one line below. ``build_model(name, checkpoint=None)`` returns a model in
eval mode:

- ``weights=None``: untrained (random init, seeded), for tests and benchmarks only;
- ``weights=<path>``: a checkpoint file;
The authors' checkpoints are downloaded by :mod:`salience.weights` (its
``fetch``; the workflow's download step records their paths), never here:
prediction jobs read the paths that the download step recorded
(:func:`salience.weights.read_record`).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from .cards.deepgaze_iie import DEEPGAZE_IIE
from .cards.deepgaze_iii import DEEPGAZE_III
from .cards.deepgaze_mr import DEEPGAZE_MR
from .description import MODEL_OPTIONS, ModelDescription, OfficialFile

MODELS: dict[str, ModelDescription] = {
    description.name: description for description in (DEEPGAZE_MR, DEEPGAZE_IIE, DEEPGAZE_III)
}

MODEL_NAMES = tuple(MODELS)

UNTRAINED_SEED = 0

__all__ = ["MODELS", "MODEL_NAMES", "MODEL_OPTIONS", "ModelDescription", "OfficialFile",
           "build_model", "describe"]


def describe(name: str) -> ModelDescription:
    """The registered description of model ``name``."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None


def build_model(name: str, weights: str | Path | None = None, **kwargs):
    """Build model ``name`` with ``weights`` (None: untrained, or a checkpoint path)."""
    description = describe(name)
    module_name, function_name = description.builder.split(":")
    builder = getattr(importlib.import_module(module_name), function_name)
    if weights is not None:
        return builder(Path(weights), **kwargs)
    # Untrained models are seeded: every job of a run (and every chunk) then
    # computes with the same random weights, so chunked runs stay comparable.
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        return builder(None, **kwargs)
