# Probe, predict in chunks (the GPU work), assemble one zarr store per video.


# A checkpoint: the chunk jobs are planned from the frame count it decodes.
checkpoint probe_video:
    input:
        video_path,
    output:
        "results/{video}/probe.json",
    log:
        "logs/{video}/probe_video.log",
    conda:
        "../envs/salience.yaml"
    params:
        on_decode_error=config["on_decode_error"],
        video_stream=config["video_stream"],
    shell:
        "python -m salience probe {input:q} --on-decode-error {params.on_decode_error} "
        "--video-stream {params.video_stream} --output {output:q} > {log:q} 2>&1"


rule predict_chunk:
    input:
        unpack(optional_files),
        video=video_path,
        probe="results/{video}/probe.json",
        weights=weights_record(),
    output:
        # temp: removed once saliency.zarr holds them (a second full copy of
        # the maps otherwise); kept until then, so a stopped run resumes.
        temp(directory("results/{video}/chunks/{chunk}.zarr")),
    log:
        "logs/{video}/predict_chunk/{chunk}.log",
    conda:
        "../envs/salience.yaml"
    threads: config["threads"]
    resources:
        gpu=1,
        cpus_per_task=config["threads"],
        mem_mb=lambda wc: plan.chunk_mem_mb(
            video_info(wc).width,
            video_info(wc).height,
            config["batch_size"],
            chunk_of(wc).frames_decoded,
        ),
        runtime=lambda wc: plan.chunk_runtime_minutes(
            chunk_of(wc), video_info(wc).width, video_info(wc).height, config["model"]
        ),
        # Not params: they never change a result, so changing them reruns nothing.
        batch_size=config["batch_size"],
        device=config["device"],
    params:
        **content_params(optional_files(None)),
        start=lambda wc: chunk_of(wc).start,
        stop=lambda wc: chunk_of(wc).stop,
        head=result_config("head"),
        precision=result_config("precision"),
        scale=result_config("scale"),
        fixation_history=result_config("fixation_history"),
        store_dtype=result_config("store_dtype"),
        shard_frames=store.shard_frames_for(
            config["chunk_frames"], config["shard_frames"]
        ),
    shell:
        "python -m salience predict {input.video:q} --probe {input.probe:q} --output {output:q} "
        "--start {params.start} --stop {params.stop} "
        "--weights-record {input.weights:q} --head {params.head} --precision {params.precision} "
        "--scale {params.scale} --fixation-history {params.fixation_history:q} "
        "--store-dtype {params.store_dtype} --shard-frames {params.shard_frames} "
        "--batch-size {resources.batch_size} --device {resources.device} "
        "--threads {threads} > {log:q} 2>&1"


rule assemble_zarr:
    input:
        chunks=chunk_outputs,
        probe="results/{video}/probe.json",
        weights=weights_record(),
    output:
        directory("results/{video}/saliency.zarr"),
    log:
        "logs/{video}/assemble_zarr.log",
    conda:
        "../envs/salience.yaml"
    params:
        attrs=json.dumps(RESULT_CONFIG, sort_keys=True),
        store_dtype=result_config("store_dtype"),
        # chunk stores there that are not inputs (an older plan) are removed
        chunks_dir=lambda wc: f"results/{wc.video}/chunks",
    shell:
        "python -m salience assemble {input.chunks:q} --probe {input.probe:q} "
        "--weights-record {input.weights:q} --attrs {params.attrs:q} "
        "--store-dtype {params.store_dtype} --chunks-dir {params.chunks_dir:q} "
        "--output {output:q} > {log:q} 2>&1"
