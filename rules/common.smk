# Configuration, the video table, and the chunk plan. The plan comes from the
# decoded frame count: probe_video is a checkpoint, and the chunk jobs of a
# video appear once its probe.json exists (a dry run before that lists the
# probes and says that the rest is determined after them).

import functools
import json
import os
import re

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# The `salience` package (workflow_scripts/) is installed by the environment:
# `pip install -e .` here, envs/salience.yaml for the jobs of --use-conda.
from salience.errors import SalienceError
from salience import config_checks, frames, plan, settings, store, video, weights
from salience.models import MODEL_NAMES, MODEL_OPTIONS, describe

# gaze: and aoi: are checked first, each mistake one sentence (the schema's
# messages for nested settings are long dumps); gaze's short forms become its
# full form, whose defaults the schema fills in.
try:
    config_checks.check_eyetracking_settings(config)
except SalienceError as error:
    raise WorkflowError(str(error)) from None
validate(config, schema="../schemas/config.schema.yaml")
# Every fact about the model comes from its description (salience.models).
MODEL = describe(config["model"])
# Files named in the config are checked before any job, even if results exist.
try:
    config_checks.check_files(config)
    config_checks.check_settings(config)
except SalienceError as error:
    raise WorkflowError(str(error)) from None


def _find_videos():
    """Video id -> path. Missing files, non-videos and videos without frames stop here."""
    try:
        store.shard_frames_for(config["chunk_frames"], config["shard_frames"])
        videos = plan.find_videos(config["videos"], results="results")
        for vid, path in videos.items():
            if path.exists():
                # cheap: the first frame
                width, height = video.check_readable(path, config["video_stream"])
                config_checks.check_video(config, path, width, height)
            else:
                logger.warning(
                    f"config 'videos': {path} is gone; its results stay in results/{vid}/ "
                    "for --report; to run jobs, put it back or take it out of 'videos'"
                )
        return videos
    except SalienceError as error:
        raise WorkflowError(str(error)) from None


VIDEOS = _find_videos()
# How the rules name each video (a link where its path holds braces).
VIDEO_INPUTS = {
    vid: plan.tracked_path(vid, path, ".snakemake/salience-videos")
    for vid, path in VIDEOS.items()
}


wildcard_constraints:
    video="|".join(re.escape(v) for v in VIDEOS) if VIDEOS else "^$",
    model="|".join(MODEL_NAMES),
    chunk=frames.NAME_PATTERN,


def executing():
    """Whether the DAG is built to run jobs (a run or a dry run), not for a report or a graph.

    Snakemake gives the workflow its execution settings only then.
    """
    return getattr(workflow, "execution_settings", None) is not None


def video_path(wildcards):
    """The video as the rules name it; none for a video moved away, unless jobs may run."""
    path = VIDEO_INPUTS[wildcards.video]
    if not executing() and not os.path.exists(path):
        return []  # its results can be reported (--report) without it
    return str(path)


def video_info(wildcards):
    """The video's probe (after the probe_video checkpoint ran)."""
    probe_json = checkpoints.probe_video.get(video=wildcards.video).output[0]
    return _load_probe(probe_json, os.stat(probe_json).st_mtime_ns)


@functools.lru_cache(maxsize=None)
def _load_probe(probe_json, modified):
    # Read once per DAG build (a long video's probe holds every timestamp);
    # a probe written anew has another modification time.
    return video.load_probe(probe_json)


@functools.lru_cache(maxsize=None)
def _plan(frame_count):
    return plan.plan_video(
        frame_count,
        config["chunk_frames"],
        MODEL.temporal_window,
        config["render"]["segment_frames"],
    )


def video_plan(wildcards):
    """The video's chunks and render segments, planned from its decoded frame count."""
    return _plan(video_info(wildcards).frame_count)


def chunk_of(wildcards):
    return plan.chunk_named(wildcards.chunk, MODEL.temporal_window)


def chunk_outputs(wildcards):
    """Every chunk store of the video."""
    return [
        f"results/{wildcards.video}/chunks/{chunk.name}.zarr"
        for chunk in video_plan(wildcards).chunks
    ]


def weights_record():
    return f"results/weights/{config['model']}.json"


def final_outputs():
    outputs = []
    for vid in VIDEOS:
        outputs += [
            f"results/{vid}/saliency.zarr",
            f"results/{vid}/heatmap.mp4",
            f"results/{vid}/overlay.mp4",
        ]
        if config["export"]["png"]:
            outputs.append(f"results/{vid}/heatmap_png")
        if config["export"]["npy"]:
            outputs.append(f"results/{vid}/log_density_npy")
    return outputs


# The config values that shape the predicted maps: changing any of them
# reruns prediction (params of predict_chunk, or of download_weights, whose
# record predict_chunk reads); others do not. Options
# that do not apply to the chosen model (its description says which) are left
# out, so that editing them reruns nothing.
RESULT_CONFIG = {
    key: config[key]
    for key in settings.PREDICTION_KEYS
    if key not in MODEL_OPTIONS or MODEL.applies(key)
}


def result_config(key):
    """A result-shaping config value, or its neutral default where it does not apply."""
    return RESULT_CONFIG.get(key, MODEL_OPTIONS.get(key))


def model_files(wildcards):
    """Local files the weights record covers: inputs of download_weights, so edits rerun."""
    files = {}
    if config["weights"] not in ("official", "untrained"):
        files["checkpoint"] = config["weights"]
    if config["center_bias"] not in ("default", "uniform"):
        files["center_bias"] = config["center_bias"]
    return files


def optional_files(wildcards):
    """A gaze CSV named in the config: an input of predict_chunk, so edits rerun."""
    if MODEL.applies("fixation_history") and config["fixation_history"] != "center":
        return {"fixation_history": config["fixation_history"]}
    return {}


def sha256_of(path):
    return weights.sha256_cached(path, ".snakemake/salience-digests")


def content_params(files):
    """``<role>_sha256`` of each file: params of the rules that read them.

    Content, not only modification times, decides their reruns: a file
    replaced by other content under an old mtime (``cp -p``, a restored
    backup) reruns what read it. Params only where such files are named, so
    that runs without them see no new param.
    """
    return {f"{role}_sha256": sha256_of(path) for role, path in files.items()}
