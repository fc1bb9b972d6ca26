"""The defaults of the settings objects are the config schema's, config.yaml's and the command line's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from salience.__main__ import build_parser
from salience.models.description import MODEL_OPTIONS
from salience.settings import PREDICTION_KEYS, Encoding, Prediction, RenderStyle

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
# Encoding.threads is x264's threads per video (0: its choice); config render.threads is
# the CPUs of a render job, which the rule hands to x264: another fact, with another default.
SHARED = [(cls, f.name) for cls in (RenderStyle, Encoding) for f in dataclasses.fields(cls) if f.name != "threads"]


@pytest.mark.parametrize("cls, key", SHARED)
def test_schema_and_config_defaults_are_the_settings(cls, key):
    default = getattr(cls(), key)
    assert SCHEMA["properties"]["render"]["properties"][key]["default"] == default
    assert CONFIG["render"][key] == default


@pytest.mark.parametrize("key", [f.name for f in dataclasses.fields(Prediction) if f.name != "threads"])
def test_prediction_defaults_are_the_schema_defaults(key):
    # threads: the config's is the CPUs of a job (2); the command line's None leaves it to torch
    assert SCHEMA["properties"][key]["default"] == getattr(Prediction, key)


def test_model_options_neutral_values_are_the_schema_defaults():
    for key, neutral in MODEL_OPTIONS.items():
        assert SCHEMA["properties"][key]["default"] == neutral


def test_prediction_keys_are_config_keys():
    assert set(PREDICTION_KEYS) <= set(SCHEMA["properties"])


@pytest.mark.parametrize("step", ["render-segment", "human", "snapshots", "predict"])
def test_command_line_defaults_are_the_settings(step):
    steps = next(a for a in build_parser()._actions if a.dest == "step")
    defaults = {action.dest: action.default for action in steps.choices[step]._actions}
    for cls in (RenderStyle, Encoding) if step != "predict" else (Prediction,):
        for field in dataclasses.fields(cls):
            if field.name in defaults:
                assert defaults[field.name] == field.default, (step, field.name)


def test_gaze_defaults_are_the_schema_defaults():
    from salience.evaluation.files import KEYS, settings_from_config
    from salience.evaluation.gaze import GazeSettings

    schema = SCHEMA["properties"]["gaze"]["properties"]
    assert tuple(schema) == KEYS  # every setting documented, none more
    defaults = {key: spec["default"] for key, spec in schema.items()}
    assert defaults["files"] is None and settings_from_config({"gaze": defaults}) is None  # no files: no gaze
    filled = settings_from_config({"gaze": {**defaults, "files": "{video}.csv"}})
    assert filled == GazeSettings(files="{video}.csv")
