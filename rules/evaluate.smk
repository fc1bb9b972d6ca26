# Compare the maps with eye-tracking data (config gaze:, aoi:): metrics per
# frame and per video, areas of interest over time, human heatmap videos, and
# the figures of `snakemake --report report.html`. Videos without gaze are
# not evaluated.

import shlex

from salience.eyetracking_files import checked_files  # noqa: E402


def _eyetracking_files():
    try:
        return checked_files(config, set(VIDEOS))
    except SalienceError as error:
        raise WorkflowError(str(error)) from None


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


rule evaluate_gaze:
    input:
        store="results/{video}/saliency.zarr",
        gaze=gaze_of,
    output:
        "results/{video}/metrics.csv",
    params:
        blur=GAZE_BLUR,
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/evaluate_gaze.log",
    shell:
        "python -m salience evaluate {input.store:q} --gaze {input.gaze:q} "
        "--output {output:q} {params.blur} > {log:q} 2>&1"


rule summarize_metrics:
    input:
        [f"results/{vid}/metrics.csv" for vid in GAZE],
    output:
        report(
            "results/metrics_summary.csv",
            caption="../report/metrics.rst",
            category="Metrics",
        ),
    params:
        pairs=" ".join(f"{vid}=results/{vid}/metrics.csv" for vid in GAZE),
    conda:
        "../envs/salience.yaml"
    log:
        "logs/summarize_metrics.log",
    shell:
        "python -m salience summarize {params.pairs} --output {output:q} > {log:q} 2>&1"


rule areas_of_interest:
    input:
        unpack(aoi_inputs),
        store="results/{video}/saliency.zarr",
    output:
        table="results/{video}/aoi.csv",
        plot=report(
            "results/{video}/aoi.svg",
            caption="../report/aoi.rst",
            category="Areas of interest",
            subcategory="{video}",
        ),
    params:
        gaze=lambda wc, input: f"--gaze {shlex.quote(input.gaze)}" if "gaze" in input.keys() else "",
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/areas_of_interest.log",
    shell:
        "python -m salience aoi {input.store:q} --aoi {input.aoi:q} {params.gaze} "
        "--output {output.table:q} --plot {output.plot:q} --title {wildcards.video:q} > {log:q} 2>&1"


rule concentration:
    input:
        "results/{video}/saliency.zarr",
    output:
        table="results/{video}/concentration.csv",
        plot=report(
            "results/{video}/concentration.svg",
            caption="../report/concentration.rst",
            category="Concentration",
            subcategory="{video}",
        ),
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/concentration.log",
    shell:
        "python -m salience concentration {input:q} --output {output.table:q} "
        "--plot {output.plot:q} --title {wildcards.video:q} > {log:q} 2>&1"


rule render_human:
    input:
        store="results/{video}/saliency.zarr",
        video=video_path,
        gaze=gaze_of,
    output:
        heatmap="results/{video}/human_heatmap.mp4",
        pair="results/{video}/model_vs_human.mp4",
    params:
        blur=GAZE_BLUR,
        colormap=config["render"]["colormap"],
        normalization=config["render"]["normalization"],
        opacity=config["render"]["opacity"],
        crf=config["render"]["crf"],
        audio="" if config["render"]["audio"] else "--no-audio",
    threads: 2
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/render_human.log",
    shell:
        "python -m salience human {input.store:q} {input.video:q} --gaze {input.gaze:q} "
        "--heatmap {output.heatmap:q} --pair {output.pair:q} {params.blur} "
        "--colormap {params.colormap:q} --normalization {params.normalization} "
        "--opacity {params.opacity} --crf {params.crf} {params.audio} > {log:q} 2>&1"


rule snapshots:
    input:
        unpack(snapshot_inputs),
        store="results/{video}/saliency.zarr",
        video=video_path,
    output:
        report(
            directory("results/{video}/snapshots"),
            patterns=["{name}.png"],
            caption="../report/snapshots.rst",
            category="Overlay frames",
            subcategory="{video}",
        ),
    params:
        gaze=lambda wc, input: (
            f"--gaze {shlex.quote(input.gaze)} {GAZE_BLUR}" if "gaze" in input.keys() else ""
        ),
        colormap=config["render"]["colormap"],
        opacity=config["render"]["opacity"],
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/snapshots.log",
    shell:
        "python -m salience snapshots {input.store:q} {input.video:q} {params.gaze} "
        "--output-dir {output:q} --colormap {params.colormap:q} "
        "--opacity {params.opacity} > {log:q} 2>&1"
