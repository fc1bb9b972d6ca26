# Saliency for videos: DeepGaze MR (video) or DeepGaze IIE / III (per frame).
#
#   video ─ probe_video ─┐
#   download_weights ────┼─ predict_chunk (one GPU job per chunk) ─ assemble_zarr
#                        │  └─ render_segment (per chunk, from its store) ─ join_videos
#                        │  └─ export_segment (optional PNG / .npy) ─ export_png / export_npy
#
# Thin rules: each calls one step of `python -m salience` (workflow_scripts/salience).

from snakemake.utils import min_version

min_version("8.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/weights.smk"
include: "rules/predict.smk"
include: "rules/segments.smk"
include: "rules/render.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
