"""Checkpoint files: checked cheaply (no torch) when the DAG is built, loaded into a model with messages that say what is wrong."""

from __future__ import annotations

from pathlib import Path

from ..errors import WeightsError

# A file torch.save wrote starts as a zip archive (torch >= 1.6) or a pickle.
_CHECKPOINT_MAGIC = (b"PK\x03\x04", b"\x80")


def check_checkpoint_path(spec: str | Path, config_key: str = "weights") -> Path:
    """A local checkpoint path: it exists and looks like a file ``torch.save`` wrote.

    Cheap (no torch): the DAG build runs it, so that a typo or a text file
    stops the run before any job.
    """
    path = Path(spec).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"checkpoint {path} does not exist (config '{config_key}'). Give the path of a "
            "downloaded checkpoint, 'official' to download the authors' file, or 'untrained'."
        )
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not any(head.startswith(magic) for magic in _CHECKPOINT_MAGIC):
        raise WeightsError(
            f"{path} is not a PyTorch checkpoint (config '{config_key}'; it starts with "
            f"{head!r}, not a torch.save archive). Give the .pt/.pth file itself, or 'official'."
        )
    return path


def load_checkpoint(path: str | Path, config_key: str = "weights"):
    """Load a checkpoint's tensors without executing code (``weights_only``)."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and torch errors alike
        raise WeightsError(
            f"{path} is not a readable PyTorch checkpoint ({error}); config '{config_key}': "
            "download it again or give the right file."
        ) from error


def _state_dict(checkpoint, path) -> dict:
    """The mapping of names to tensors in a checkpoint: plain, or under
    ``model_state_dict`` (DeepGaze MR) or ``state_dict``."""
    import torch

    if isinstance(checkpoint, dict):
        for key in ("model_state_dict", "state_dict"):
            if isinstance(checkpoint.get(key), dict):
                checkpoint = checkpoint[key]
                break
        if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            return checkpoint
    raise WeightsError(f"{path} does not hold a state dict (a mapping of names to tensors); "
                       "config 'weights': give the model's checkpoint file.")


def load_state(model, path: str | Path, label: str, official_url: str):
    """Load checkpoint ``path`` into ``model`` with ``strict=True``; return the model.

    The key sets are compared first, so that a wrong or truncated file fails
    with a message that names what is missing or unexpected.
    """
    path = check_checkpoint_path(path)
    state = _state_dict(load_checkpoint(path), path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:

        def few(keys):
            return ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")

        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s) ({few(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s) ({few(unexpected)})")
        raise WeightsError(
            f"{path} is not a {label} checkpoint: " + "; ".join(parts) + ". Config 'weights': "
            f"use the official file ({official_url}) or one saved from this model's state_dict()."
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:  # shape mismatches
        raise WeightsError(f"{path} does not fit {label}: {error}") from error
    return model


def ready(model, checkpoint: str | Path | None, label: str, official_url: str):
    """``model`` in eval mode: untrained (``checkpoint`` None) or loaded from ``checkpoint`` (``load_state``)."""
    if checkpoint is not None:
        load_state(model, checkpoint, label, official_url)
    return model.eval()
