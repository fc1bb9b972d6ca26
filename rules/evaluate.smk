# Compare the maps with eye-tracking data (config gaze:, aoi:): metrics per
# frame and per video, areas of interest over time, human heatmap videos, and
# the figures of `snakemake --report report.html`. Videos without gaze are
# not evaluated.


include: "evaluate_inputs.smk"


rule gaze_points:
    input:
        probe="results/{video}/probe.json",
        files=gaze_files,
    output:
        "results/{video}/gaze_points.csv",
    log:
        "logs/{video}/gaze_points.log",
    conda:
        "../envs/salience.yaml"
    params:
        # a function: the settings' {video} and {participant} are not wildcards
        settings=lambda wildcards: GAZE_SETTINGS,
        files=gaze_file_options,
        sha256=csv_digests("gaze"),
    shell:
        "python -m salience gaze-points --probe {input.probe:q} --settings {params.settings:q} "
        "--video {wildcards.video:q} {params.files} --output {output:q} > {log:q} 2>&1"


rule evaluate_gaze:
    input:
        store="results/{video}/saliency.zarr",
        gaze=gaze_of,
    output:
        metrics="results/{video}/metrics.csv",
        participants="results/{video}/metrics_participants.csv",
    log:
        "logs/{video}/evaluate_gaze.log",
    conda:
        "../envs/salience.yaml"
    threads: 2
    params:
        blur=gaze_blur,
        profile=config["evaluation_profile"],
    shell:
        "python -m salience evaluate {input.store:q} --gaze {input.gaze:q} "
        "--output {output.metrics:q} --participants-output {output.participants:q} "
        "{params.blur} --profile {params.profile} --threads {threads} > {log:q} 2>&1"


rule summarize_metrics:
    input:
        [f"results/{vid}/metrics.csv" for vid in GAZE],
        [f"results/{vid}/metrics_participants.csv" for vid in GAZE],
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
        metrics=" ".join(f"{vid}=results/{vid}/metrics.csv" for vid in GAZE),
        participants=" ".join(
            f"{vid}=results/{vid}/metrics_participants.csv" for vid in GAZE
        ),
        profile=config["evaluation_profile"],
    shell:
        "python -m salience summarize {params.metrics} --participants {params.participants} "
        "--profile {params.profile} --output {output:q} > {log:q} 2>&1"


# The report's first page (report/workflow.rst includes it): weights, the
# summary tables, one labelled snapshot per video.
rule overview:
    input:
        unpack(overview_inputs),
    output:
        report(
            "results/overview.html",
            caption="../report/overview.rst",
            category="Overview",
        ),
    log:
        "logs/overview.log",
    conda:
        "../envs/salience.yaml"
    params:
        # in id order: the same videos listed otherwise are the same overview
        stores=" ".join(
            shlex.quote(f"{vid}=results/{vid}/saliency.zarr") for vid in sorted(VIDEOS)
        ),
        snapshots=" ".join(
            shlex.quote(f"{vid}=results/{vid}/snapshots") for vid in sorted(VIDEOS)
        ),
        summary="--summary results/metrics_summary.csv" if GAZE else "",
        profile=config["evaluation_profile"],
    shell:
        "python -m salience overview --store {params.stores} --snapshots {params.snapshots} "
        "{params.summary} --profile {params.profile} --output {output:q} > {log:q} 2>&1"


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
        sha256=csv_digests("aoi"),
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
        blur=gaze_blur,
        colormap=config["render"]["colormap"],
        normalization=config["render"]["normalization"],
        opacity=config["render"]["opacity"],
        crf=config["render"]["crf"],
        audio="" if config["render"]["audio"] else "--no-audio",
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
        gaze=lambda wc, input: (
            f"--gaze {shlex.quote(input.gaze)} {gaze_blur(wc)}"
            if "gaze" in input.keys()
            else ""
        ),
        colormap=config["render"]["colormap"],
        opacity=config["render"]["opacity"],
    shell:
        "python -m salience snapshots {input.store:q} --probe {input.probe:q} {params.gaze} "
        "--output-dir {output:q} --colormap {params.colormap:q} "
        "--opacity {params.opacity} > {log:q} 2>&1"
