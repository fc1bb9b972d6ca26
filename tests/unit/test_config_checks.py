"""Config values checked when the DAG is built: one line naming the key and the fix."""

from __future__ import annotations

import pytest

from salience import plan
from salience.config_checks import check_settings, check_video
from salience.errors import ConfigError


def config(**overrides):
    base = {"model": "deepgaze_mr", "scale": 1.0, "batch_size": 4, "chunk_frames": 300,
            "render": {"colormap": "inferno"}}
    base.update(overrides)
    return base


def test_an_unknown_colormap_is_named_with_its_key():
    check_settings(config())
    with pytest.raises(ConfigError, match=r"render: colormap.*'infernoo'.*matplotlib"):
        check_settings(config(render={"colormap": "infernoo"}))


def test_a_frame_too_small_for_the_backbone_at_the_scale_is_refused():
    check_video(config(model="deepgaze_iii"), "clip.mp4", 128, 96)
    with pytest.raises(ConfigError) as error:
        check_video(config(model="deepgaze_iii", scale=0.5), "clip.mp4", 128, 96)
    message = str(error.value)
    assert "clip.mp4" in message and "58 px" in message and "64x48" in message
    assert "raise 'scale' to at least 0.61" in message
    check_video(config(model="deepgaze_iii", scale=0.61), "clip.mp4", 128, 96)  # the fix it names works
    with pytest.raises(ConfigError, match="too small for deepgaze_iie even at the largest scale"):
        check_video(config(model="deepgaze_iie"), "tiny.mp4", 12, 8)
    with pytest.raises(ConfigError, match="16 px on each side"):
        check_video(config(), "tiny.mp4", 48, 12)  # DeepGaze MR: no scale to change


def test_a_batch_no_gpu_holds_is_refused_and_a_harmless_large_one_is_not():
    check_video(config(batch_size=100000), "small.mp4", 96, 64)  # a micro-batch never exceeds a chunk
    with pytest.raises(ConfigError, match=r"config 'batch_size': 315 frames of 1920x1080.*lower batch_size"):
        check_video(config(batch_size=100000), "big.mp4", 1920, 1080)


def test_memory_asked_for_a_chunk_counts_the_frames_it_can_batch():
    chunk = plan.chunk(300, 600, 16)
    assert plan.chunk_mem_mb(96, 64, 100000, chunk.frames_decoded) == plan.chunk_mem_mb(96, 64, 315)
    assert plan.chunk_mem_mb(96, 64, 100000, chunk.frames_decoded) < 4000  # not 353,611 MB
    assert plan.chunk_mem_mb(96, 64, 4, chunk.frames_decoded) == plan.chunk_mem_mb(96, 64, 4)
