# Compare the maps with eye-tracking data (config gaze:, aoi:): metrics per
# frame and per video, areas of interest over time, human heatmap videos, and
# the figures of `snakemake --report report.html`. Videos without gaze are
# not evaluated.


include: "evaluate_inputs.smk"


rule evaluate_gaze:
    input:
        store="results/{video}/saliency.zarr",
        gaze=gaze_of,
    output:
        "results/{video}/metrics.csv",
    log:
        "logs/{video}/evaluate_gaze.log",
    conda:
        "../envs/salience.yaml"
    threads: 2
    params:
        blur=GAZE_BLUR,
        sha256=csv_digests("gaze"),
    shell:
        "python -m salience evaluate {input.store:q} --gaze {input.gaze:q} "
        "--output {output:q} {params.blur} --threads {threads} > {log:q} 2>&1"


rule summarize_metrics:
    input:
        [f"results/{vid}/metrics.csv" for vid in GAZE],
    output:
        report(
            "results/metrics_summary.csv",
            caption="../report/metrics.rst",
            category="Metrics",
        ),
    log:
        "logs/summarize_metrics.log",
    conda:
        "../envs/salience.yaml"
    params:
        pairs=" ".join(f"{vid}=results/{vid}/metrics.csv" for vid in GAZE),
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
    log:
        "logs/{video}/areas_of_interest.log",
    conda:
        "../envs/salience.yaml"
    params:
        gaze=lambda wc, input: (
            f"--gaze {shlex.quote(input.gaze)}" if "gaze" in input.keys() else ""
        ),
        sha256=csv_digests("aoi", "gaze"),
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
    log:
        "logs/{video}/concentration.log",
    conda:
        "../envs/salience.yaml"
    shell:
        "python -m salience concentration {input:q} --output {output.table:q} "
        "--plot {output.plot:q} --title {wildcards.video:q} > {log:q} 2>&1"


rule render_human:
    input:
        store="results/{video}/saliency.zarr",
        probe="results/{video}/probe.json",
        gaze=gaze_of,
    output:
        heatmap="results/{video}/human_heatmap.mp4",
        pair="results/{video}/model_vs_human.mp4",
    log:
        "logs/{video}/render_human.log",
    conda:
        "../envs/salience.yaml"
    threads: 2
    params:
        blur=GAZE_BLUR,
        colormap=config["render"]["colormap"],
        normalization=config["render"]["normalization"],
        opacity=config["render"]["opacity"],
        crf=config["render"]["crf"],
        audio="" if config["render"]["audio"] else "--no-audio",
        sha256=csv_digests("gaze"),
    shell:
        "python -m salience human {input.store:q} --probe {input.probe:q} --gaze {input.gaze:q} "
        "--heatmap {output.heatmap:q} --pair {output.pair:q} {params.blur} "
        "--colormap {params.colormap:q} --normalization {params.normalization} "
        "--opacity {params.opacity} --crf {params.crf} {params.audio} > {log:q} 2>&1"


rule snapshots:
    input:
        unpack(snapshot_inputs),
        store="results/{video}/saliency.zarr",
        probe="results/{video}/probe.json",
    output:
        report(
            directory("results/{video}/snapshots"),
            patterns=["{name}.png"],
            caption="../report/snapshots.rst",
            category="Overlay frames",
            subcategory="{video}",
        ),
    log:
        "logs/{video}/snapshots.log",
    conda:
        "../envs/salience.yaml"
    params:
        # only where some video has gaze: snapshots are made for every video
        **({"sha256": csv_digests("gaze")} if GAZE else {}),
        gaze=lambda wc, input: (
            f"--gaze {shlex.quote(input.gaze)} {GAZE_BLUR}"
            if "gaze" in input.keys()
            else ""
        ),
        colormap=config["render"]["colormap"],
        opacity=config["render"]["opacity"],
    shell:
        "python -m salience snapshots {input.store:q} --probe {input.probe:q} {params.gaze} "
        "--output-dir {output:q} --colormap {params.colormap:q} "
        "--opacity {params.opacity} > {log:q} 2>&1"
