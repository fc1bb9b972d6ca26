# Heatmap and overlay videos, and optional per-frame exports, in segments.
#
# Each segment of frames is its own job (render_segment), planned inside one
# prediction chunk: it reads that chunk's store, so it starts as soon as the
# chunk is predicted, while other chunks are still on the GPUs and before
# saliency.zarr is assembled. join_videos copies the segments' packets into
# heatmap.mp4 and overlay.mp4 (no re-encoding) and adds the audio once.
# Chunk stores are temp(): Snakemake removes them only after assemble_zarr
# and every segment job reading them are done. On a later run they are gone:
# segments then read saliency.zarr (see segment_stores), so re-rendering
# never re-runs prediction.


rule density_peak:
    input:
        video_stores,
    output:
        "results/{video}/density_peak.json",
    log:
        "logs/{video}/density_peak.log",
    conda:
        "../envs/salience.yaml"
    shell:
        "python -m salience density-peak {input:q} --output {output:q} > {log:q} 2>&1"


rule render_segment:
    input:
        unpack(peak_input),
        unpack(aoi_outline_input),
        stores=segment_stores,
        video=video_path,
        probe="results/{video}/probe.json",
    output:
        heatmap=temp("results/{video}/segments/heatmap/{segment}.mp4"),
        overlay=temp("results/{video}/segments/overlay/{segment}.mp4"),
    log:
        "logs/{video}/render_segment/{segment}.log",
    conda:
        "../envs/salience.yaml"
    threads: RENDER["threads"]
    resources:
        cpus_per_task=RENDER["threads"],
        mem_mb=lambda wc: plan.segment_mem_mb(
            video_info(wc).width, video_info(wc).height
        ),
        runtime=lambda wc, attempt: attempt
        * plan.segment_runtime_minutes(
            segment_of(wc).length,
            video_info(wc).width,
            video_info(wc).height,
            RENDER["preset"],
        ),
    params:
        start=lambda wc: segment_of(wc).start,
        stop=lambda wc: segment_of(wc).stop,
        colormap=RENDER["colormap"],
        opacity=RENDER["opacity"],
        crf=RENDER["crf"],
        preset=RENDER["preset"],
        peak=lambda wc, input: f"--peak {input.peak}" if "peak" in input.keys() else "",
        aoi=lambda wc, input: (
            f"--aoi {shlex.quote(input.aoi)}" if "aoi" in input.keys() else ""
        ),
    shell:
        "python -m salience render-segment {input.stores:q} --probe {input.probe:q} "
        "--start {params.start} --stop {params.stop} "
        "--heatmap {output.heatmap:q} --overlay {output.overlay:q} "
        "--colormap {params.colormap:q} {params.peak} {params.aoi} --opacity {params.opacity} "
        "--crf {params.crf} --preset {params.preset} --threads {threads} > {log:q} 2>&1"


rule join_videos:
    input:
        heatmap=segment_files("heatmap"),
        overlay=segment_files("overlay"),
        video=video_path,
        probe="results/{video}/probe.json",
    output:
        heatmap="results/{video}/heatmap.mp4",
        overlay="results/{video}/overlay.mp4",
        record="results/{video}/rendered/videos.json",
    log:
        "logs/{video}/join_videos.log",
    conda:
        "../envs/salience.yaml"
    params:
        audio="" if RENDER["audio"] else "--no-audio",
        render=lambda wc: current.record_text(render_settings(wc.video, "videos")),
    shell:
        "(python -m salience join {input.heatmap:q} --probe {input.probe:q} "
        "--output {output.heatmap:q} {params.audio} && "
        "python -m salience join {input.overlay:q} --probe {input.probe:q} "
        "--output {output.overlay:q} {params.audio} && "
        "printf '%s\\n' {params.render:q} > {output.record:q}) > {log:q} 2>&1"


rule export_segment:
    input:
        unpack(peak_input),
        stores=segment_stores,
        probe="results/{video}/probe.json",
    output:
        temp(directory("results/{video}/segments/{part}/{segment}")),
    log:
        "logs/{video}/export_segment/{part}-{segment}.log",
    conda:
        "../envs/salience.yaml"
    params:
        start=lambda wc: segment_of(wc).start,
        stop=lambda wc: segment_of(wc).stop,
        colormap=RENDER["colormap"],
        peak=lambda wc, input: f"--peak {input.peak}" if "peak" in input.keys() else "",
    shell:
        "python -m salience render-segment {input.stores:q} --probe {input.probe:q} "
        "--start {params.start} --stop {params.stop} --{wildcards.part}-dir {output:q} "
        "--colormap {params.colormap:q} {params.peak} > {log:q} 2>&1"


rule export_png:
    input:
        segment_files("png"),
    output:
        exports=directory("results/{video}/heatmap_png"),
        record="results/{video}/rendered/png.json",
    log:
        "logs/{video}/export_png.log",
    conda:
        "../envs/salience.yaml"
    params:
        render=current.record_text(current.render_settings(RENDER, "png")),
    shell:
        "(python -m salience join-dirs {input:q} --output {output.exports:q} && "
        "printf '%s\\n' {params.render:q} > {output.record:q}) > {log:q} 2>&1"


rule export_npy:
    input:
        segment_files("npy"),
    output:
        exports=directory("results/{video}/log_density_npy"),
        record="results/{video}/rendered/npy.json",
    log:
        "logs/{video}/export_npy.log",
    conda:
        "../envs/salience.yaml"
    params:
        render=current.record_text(current.render_settings(RENDER, "npy")),
    shell:
        "(python -m salience join-dirs {input:q} --output {output.exports:q} && "
        "printf '%s\\n' {params.render:q} > {output.record:q}) > {log:q} 2>&1"
