# Which videos have eye-tracking data (config gaze:, aoi:), checked when the
# DAG is built: a bad setting, a bad file, or gaze that misses its video stops
# the run before any job, naming file, line and column. Inputs and targets of
# rules/evaluate.smk.

import shlex

from salience.evaluation.files import checked_files, unmatched_notice  # noqa: E402
from salience.evaluation.yardsticks import check_profile  # noqa: E402


def _eyetracking_files():
    try:
        check_profile(config)
        found = checked_files(config, VIDEOS, ".snakemake/salience-csv-checks")
    except SalienceError as error:
        raise WorkflowError(str(error)) from None
    patterns = {
        "gaze": found.settings.files if found.settings else None,
        "aoi": config.get("aoi"),
    }
    for key, files in (("gaze", found.gaze), ("aoi", found.aoi)):
        notice = unmatched_notice(key, patterns[key], VIDEOS, files)
        if notice:
            logger.warning(notice)
    return found


EYETRACKING = _eyetracking_files()
GAZE, AOI = EYETRACKING.gaze, EYETRACKING.aoi


def gaze_files(wildcards):
    """The eye-tracking files of a video (one per participant, or one for all)."""
    return [str(path) for path in GAZE[wildcards.video].values()]


def gaze_file_options(wildcards):
    """--participant-file NAME=PATH (participant from the file name) or --file PATH, quoted."""
    options = []
    for participant, path in GAZE[wildcards.video].items():
        if participant is None:
            options.append(f"--file {shlex.quote(str(path))}")
        else:
            options.append(f"--participant-file {shlex.quote(f'{participant}={path}')}")
    return " ".join(options)


def gaze_of(wildcards):
    return f"results/{wildcards.video}/gaze_points.csv"


def aoi_inputs(wildcards):
    inputs = {"aoi": str(AOI[wildcards.video])}
    if wildcards.video in GAZE:
        inputs["gaze"] = gaze_of(wildcards)
    return inputs


def snapshot_inputs(wildcards):
    return {"gaze": gaze_of(wildcards)} if wildcards.video in GAZE else {}


def overview_inputs(wildcards):
    inputs = {
        "stores": [f"results/{vid}/saliency.zarr" for vid in sorted(VIDEOS)],
        "snapshots": [f"results/{vid}/snapshots" for vid in sorted(VIDEOS)],
    }
    if GAZE:
        inputs["summary"] = "results/metrics_summary.csv"
    return inputs


def csv_digests(key):
    """sha256 of the video's files of config ``key`` (gaze: each participant's): a param, so that
    content decides reruns. (A function of the wildcards: Snakemake does not track params derived
    from input.)
    """

    def digests(wildcards):
        if key == "aoi":
            return sha256_of(AOI[wildcards.video])
        return {str(path): sha256_of(path) for path in GAZE[wildcards.video].values()}

    return digests


def evaluation_outputs():
    outputs = ["results/overview.html"]
    for vid in VIDEOS:
        outputs += [f"results/{vid}/concentration.svg", f"results/{vid}/snapshots"]
        if vid in GAZE:
            outputs += [
                f"results/{vid}/gaze_points.csv",
                f"results/{vid}/metrics.csv",
                f"results/{vid}/metrics_participants.csv",
                f"results/{vid}/human_heatmap.mp4",
                f"results/{vid}/model_vs_human.mp4",
            ]
        if vid in AOI:
            outputs += [f"results/{vid}/aoi.csv", f"results/{vid}/aoi.svg"]
    if GAZE:
        outputs.append("results/metrics_summary.csv")
    return outputs


def gaze_blur(wildcards):
    """The blur of the human maps: pixels of this video per degree (config, or the viewing geometry)."""
    return (
        f"--pixels-per-degree {EYETRACKING.pixels_per_degree[wildcards.video]!r} "
        f"--fwhm-degrees {config['gaze_fwhm_degrees']}"
    )


GAZE_SETTINGS = EYETRACKING.settings.to_json() if EYETRACKING.settings else "{}"
