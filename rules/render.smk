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

import os

from salience import segments


wildcard_constraints:
    segment=r"\d{7}-\d{7}",
    part=r"png|npy",


RENDER = config["render"]
# Everything that shapes the pixels. The joins carry it as params too: the
# segments are temp() and gone after a run, so only a join can notice that
# it changed (and then re-renders every segment).
RENDER_PARAMS = {
    key: RENDER[key]
    for key in ("colormap", "normalization", "opacity", "crf", "preset", "segment_frames")
}


def video_segments(wildcards):
    """The video's render segments: one per chunk, or ``segment_frames`` long, inside chunks."""
    chunks = plan.plan_chunks(
        video_info(wildcards).frame_count,
        config["chunk_frames"],
        TEMPORAL_WINDOW[config["model"]],
    )
    return segments.plan_segments(chunks, RENDER["segment_frames"])


def chunk_of_segment(wildcards):
    segment = segments.Segment.parse(wildcards.segment)
    chunks = plan.plan_chunks(
        video_info(wildcards).frame_count,
        config["chunk_frames"],
        TEMPORAL_WINDOW[config["model"]],
    )
    chunk = next(c for c in chunks if c.start <= segment.start and segment.stop <= c.stop)
    return f"results/{wildcards.video}/chunks/{chunk.name}.zarr"


# What each output was last rendered with (written by its join), and the
# outputs themselves: see maps_source.
TARGETS = {
    "videos": (["heatmap.mp4", "overlay.mp4"], {**RENDER_PARAMS, "audio": RENDER["audio"]}),
    "png": (["heatmap_png"], {k: RENDER[k] for k in ("colormap", "normalization", "segment_frames")}),
    "npy": (["log_density_npy"], {"segment_frames": RENDER["segment_frames"]}),
}


def rendered_record(video, target):
    return f"results/{video}/rendered/{target}.json"


def render_is_current(video, target):
    """Whether ``target``'s outputs exist and were rendered with today's settings."""
    names, params = TARGETS[target]
    record = rendered_record(video, target)
    if not all(os.path.exists(f"results/{video}/{n}") for n in names + ["rendered"]):
        return False
    try:
        with open(record) as handle:
            return json.load(handle) == json.loads(json.dumps(params))
    except (OSError, ValueError):
        return False


def maps_source(wildcards, chunk, target):
    """The store a segment job reads: its chunk's store, or saliency.zarr.

    The chunk store (temp) while it exists or nothing else holds the maps:
    the segment then starts as soon as its chunk is predicted. Once the
    chunks are gone (after a finished run), a re-render reads saliency.zarr,
    so it never re-predicts. A finished, current output keeps naming the
    chunk (missing, and not needed): Snakemake reruns a job whose set of
    input files changed, even one whose temp output is gone.
    """
    assembled = f"results/{wildcards.video}/saliency.zarr"
    if os.path.exists(chunk) or not os.path.exists(assembled):
        return chunk
    if render_is_current(wildcards.video, target):
        return chunk
    return assembled


def segment_stores(wildcards):
    target = wildcards.get("part", "videos")
    return [maps_source(wildcards, chunk_of_segment(wildcards), target)]


def video_stores(wildcards):
    """Every store of the video's maps (for the global peak)."""
    chunks = chunk_outputs(wildcards)
    sources = {maps_source(wildcards, chunk, "videos") for chunk in chunks}
    assembled = f"results/{wildcards.video}/saliency.zarr"
    return [assembled] if assembled in sources else chunks


def peak_input(wildcards):
    """The video's peak density, for global normalization (not for .npy exports)."""
    if RENDER["normalization"] == "global" and wildcards.get("part") != "npy":
        return {"peak": f"results/{wildcards.video}/density_peak.json"}
    return {}


def segment_files(kind):
    def files(wildcards):
        pattern = {
            "heatmap": "results/{video}/segments/heatmap/{segment}.mp4",
            "overlay": "results/{video}/segments/overlay/{segment}.mp4",
            "png": "results/{video}/segments/png/{segment}",
            "npy": "results/{video}/segments/npy/{segment}",
        }[kind]
        return [
            pattern.format(video=wildcards.video, segment=s.name)
            for s in video_segments(wildcards)
        ]

    return files


def segment_length(wildcards):
    segment = segments.Segment.parse(wildcards.segment)
    return segment.stop - segment.start


rule density_peak:
    input:
        video_stores,
    output:
        "results/{video}/density_peak.json",
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/density_peak.log",
    shell:
        "python -m salience density-peak {input:q} --output {output:q} > {log:q} 2>&1"


rule render_segment:
    input:
        unpack(peak_input),
        stores=segment_stores,
        video=video_path,
        probe="results/{video}/probe.json",
    output:
        heatmap=temp("results/{video}/segments/heatmap/{segment}.mp4"),
        overlay=temp("results/{video}/segments/overlay/{segment}.mp4"),
    params:
        start=lambda wc: segments.Segment.parse(wc.segment).start,
        stop=lambda wc: segments.Segment.parse(wc.segment).stop,
        colormap=RENDER["colormap"],
        opacity=RENDER["opacity"],
        crf=RENDER["crf"],
        preset=RENDER["preset"],
        peak=lambda wc, input: f"--peak {input.peak}" if "peak" in input.keys() else "",
    threads: RENDER["threads"]
    resources:
        cpus_per_task=RENDER["threads"],
        mem_mb=lambda wc: segments.segment_mem_mb(
            video_info(wc).width, video_info(wc).height
        ),
        runtime=lambda wc, attempt: attempt
        * segments.segment_runtime_minutes(
            segment_length(wc), video_info(wc).width, video_info(wc).height, RENDER["preset"]
        ),
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/render_segment/{segment}.log",
    shell:
        "python -m salience render-segment {input.stores:q} --probe {input.probe:q} "
        "--start {params.start} --stop {params.stop} "
        "--heatmap {output.heatmap:q} --overlay {output.overlay:q} "
        "--colormap {params.colormap:q} {params.peak} --opacity {params.opacity} "
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
    params:
        audio="" if RENDER["audio"] else "--no-audio",
        render=json.dumps(TARGETS["videos"][1], sort_keys=True),
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/join_videos.log",
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
    params:
        start=lambda wc: segments.Segment.parse(wc.segment).start,
        stop=lambda wc: segments.Segment.parse(wc.segment).stop,
        colormap=RENDER["colormap"],
        peak=lambda wc, input: f"--peak {input.peak}" if "peak" in input.keys() else "",
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/export_segment/{part}-{segment}.log",
    shell:
        "python -m salience render-segment {input.stores:q} --probe {input.probe:q} "
        "--start {params.start} --stop {params.stop} --{wildcards.part}-dir {output:q} "
        "--colormap {params.colormap:q} {params.peak} > {log:q} 2>&1"


rule export_png:
    input:
        segment_files("png"),
    output:
        directory("results/{video}/heatmap_png"),
        record="results/{video}/rendered/png.json",
    params:
        render=json.dumps(TARGETS["png"][1], sort_keys=True),
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/export_png.log",
    shell:
        "(python -m salience join-dirs {input:q} --output {output[0]:q} && "
        "printf '%s\\n' {params.render:q} > {output.record:q}) > {log:q} 2>&1"


rule export_npy:
    input:
        segment_files("npy"),
    output:
        directory("results/{video}/log_density_npy"),
        record="results/{video}/rendered/npy.json",
    params:
        render=json.dumps(TARGETS["npy"][1], sort_keys=True),
    conda:
        "../envs/salience.yaml"
    log:
        "logs/{video}/export_npy.log",
    shell:
        "(python -m salience join-dirs {input:q} --output {output[0]:q} && "
        "printf '%s\\n' {params.render:q} > {output.record:q}) > {log:q} 2>&1"
