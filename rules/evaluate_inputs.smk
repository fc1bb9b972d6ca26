# Which videos have eye-tracking data (config gaze:, aoi:), checked when the
# DAG is built: a bad CSV stops the run before any job, naming file, line and
# column. Inputs and targets of rules/evaluate.smk.

import shlex

from salience.evaluation.files import checked_files, unmatched_notice  # noqa: E402


def _eyetracking_files():
    try:
        found = checked_files(config, set(VIDEOS), ".snakemake/salience-csv-checks")
    except SalienceError as error:
        raise WorkflowError(str(error)) from None
    for key, files in zip(("gaze", "aoi"), found):
        notice = unmatched_notice(key, config.get(key), VIDEOS, files)
        if notice:
            logger.warning(notice)
    return found


GAZE, AOI = _eyetracking_files()


def gaze_of(wildcards):
    return str(GAZE[wildcards.video])


def aoi_inputs(wildcards):
    inputs = {"aoi": str(AOI[wildcards.video])}
    if wildcards.video in GAZE:
        inputs["gaze"] = str(GAZE[wildcards.video])
    return inputs


def snapshot_inputs(wildcards):
    return {"gaze": str(GAZE[wildcards.video])} if wildcards.video in GAZE else {}


def csv_digests(*keys):
    """sha256 of the video's CSVs of these config keys: a param, so that content decides reruns.

    (A function of the wildcards: Snakemake does not track params derived from input.)
    """
    files = {"gaze": GAZE, "aoi": AOI}

    def digests(wildcards):
        return {
            key: sha256_of(files[key][wildcards.video])
            for key in keys
            if wildcards.video in files[key]
        }

    return digests


def evaluation_outputs():
    outputs = []
    for vid in VIDEOS:
        outputs += [f"results/{vid}/concentration.svg", f"results/{vid}/snapshots"]
        if vid in GAZE:
            outputs += [
                f"results/{vid}/metrics.csv",
                f"results/{vid}/human_heatmap.mp4",
                f"results/{vid}/model_vs_human.mp4",
            ]
        if vid in AOI:
            outputs += [f"results/{vid}/aoi.csv", f"results/{vid}/aoi.svg"]
    if GAZE:
        outputs.append("results/metrics_summary.csv")
    return outputs


GAZE_BLUR = (
    f"--pixels-per-degree {config.get('pixels_per_degree')} "
    f"--fwhm-degrees {config['gaze_fwhm_degrees']}"
)
