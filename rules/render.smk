# Heatmap and overlay videos, and optional per-frame exports.


rule render_videos:
    input:
        store="results/{video}/saliency.zarr",
        video=video_path,
        probe="results/{video}/probe.json",
    output:
        heatmap="results/{video}/heatmap.mp4",
        overlay="results/{video}/overlay.mp4",
    params:
        colormap=config["render"]["colormap"],
        normalization=config["render"]["normalization"],
        opacity=config["render"]["opacity"],
        crf=config["render"]["crf"],
        audio="" if config["render"]["audio"] else "--no-audio",
    threads: 2  # decoding, and x264's own threads
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/render_videos.log",
    shell:
        "python -m salience render {input.store:q} {input.video:q} --probe {input.probe:q} "
        "--heatmap {output.heatmap:q} --overlay {output.overlay:q} "
        "--colormap {params.colormap:q} --normalization {params.normalization} "
        "--opacity {params.opacity} --crf {params.crf} {params.audio} > {log:q} 2>&1"


rule export_png:
    input:
        "results/{video}/saliency.zarr",
    output:
        directory("results/{video}/heatmap_png"),
    params:
        colormap=config["render"]["colormap"],
        normalization=config["render"]["normalization"],
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/export_png.log",
    shell:
        "python -m salience export {input:q} --png-dir {output:q} "
        "--colormap {params.colormap:q} --normalization {params.normalization} > {log:q} 2>&1"


rule export_npy:
    input:
        "results/{video}/saliency.zarr",
    output:
        directory("results/{video}/log_density_npy"),
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/export_npy.log",
    shell:
        "python -m salience export {input:q} --npy-dir {output:q} > {log:q} 2>&1"
