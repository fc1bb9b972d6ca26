"""Checks of the files a config names, run when the DAG is built (before any job).

A typo in a path, a text file given as a checkpoint or a center bias that is
not a probability map stop ``snakemake`` (dry runs too) with one line naming
the key, the file and the fix, even when results from an earlier run exist.
"""

from __future__ import annotations

from .models import describe


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
