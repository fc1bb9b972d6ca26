"""Checks of a config, run when the DAG is built (before any job).

A typo in a path, a text file given as a checkpoint, a center bias that is
not a probability map, an unknown colormap, a video too small for the model
or a batch no GPU can hold stop ``snakemake`` (dry runs too) with one line
naming the key, the file and the fix, even when results from an earlier run
exist. (The schema, schemas/config.schema.yaml, has checked types, ranges and
names such as the x264 presets before.)
"""

from __future__ import annotations

import math

from .errors import ConfigError
from .models import describe
from .plan import gpu_bytes_per_batch

#: More memory than any single GPU holds (2025: at most 256 GB): a micro-batch
#: estimated above it cannot run anywhere.
GPU_MEMORY_CEILING_BYTES = 256e9


def check_files(config: dict) -> None:
    """Raise a :class:`~salience.errors.SalienceError` for the first bad file in ``config``."""
    from .models.center_bias import check_center_bias_file
    from .models.checkpoint import check_checkpoint_path

    if config["weights"] not in ("official", "untrained"):
        check_checkpoint_path(config["weights"], "weights")
    if config["center_bias"] not in ("default", "uniform"):
        check_center_bias_file(config["center_bias"], "center_bias")
    if describe(config["model"]).applies("fixation_history") and config["fixation_history"] != "center":
        from .models.per_frame import FixationHistory

        FixationHistory(config["fixation_history"])  # reads and checks the CSV


def check_eyetracking_settings(config: dict) -> None:
    """``gaze:``, ``aoi:`` and ``pixels_per_degree`` in one sentence each (before the schema's long messages);
    ``gaze:``'s short forms are rewritten in its full form, whose defaults the schema fills in."""
    from .evaluation.files import check_aoi_setting, normalized_gaze, settings_from_config

    settings_from_config(config)
    check_aoi_setting(config.get("aoi"))
    config["gaze"] = normalized_gaze(config.get("gaze"))


def check_settings(config: dict) -> None:
    """Values the schema cannot check: the colormap is one matplotlib knows."""
    from .rendering.colour import colormap_lut

    try:
        colormap_lut(config["render"]["colormap"])
    except ConfigError as error:
        raise ConfigError(f"config 'render: colormap': {error}") from None


def check_video(config: dict, path, width: int, height: int) -> None:
    """Whether the model can take this video's frames, and a micro-batch of them fits a GPU."""
    description = describe(config["model"])
    scale = config["scale"] if description.applies("scale") else 1.0
    side = description.min_frame_side
    shortest = min(width, height)
    if max(1, round(shortest * scale)) < side:
        if description.applies("scale"):
            needed = math.ceil(side / shortest * 100) / 100
            fix = (f"raise 'scale' to at least {needed:g}" if needed <= 4 else
                   f"this video is too small for {description.name} even at the largest scale, 4")
            given = f" at scale {scale:g} ({round(width * scale)}x{round(height * scale)})"
        else:
            fix = f"this video is too small for {description.name}"
            given = ""
        raise ConfigError(f"{path}: {description.name} needs frames of at least {side} px on each side, "
                          f"this video's are {width}x{height}{given}: {fix} (config 'scale', 'model')")
    # A micro-batch never holds more frames than a chunk decodes.
    batch = min(config["batch_size"], config["chunk_frames"] + description.temporal_window - 1)
    estimate = gpu_bytes_per_batch(width, height, batch)
    if estimate > GPU_MEMORY_CEILING_BYTES:
        per_frame = gpu_bytes_per_batch(width, height, 1)
        raise ConfigError(
            f"config 'batch_size': {batch} frames of {width}x{height} ({path}) in one micro-batch need "
            f"about {estimate / 1e9:,.0f} GB of GPU memory ({per_frame / 1e9:.2g} GB a frame), more than "
            "any GPU holds; lower batch_size (it never changes the result; 4 suits an 11 GB card at 1080p)"
        )
