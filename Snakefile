# Saliency for videos: DeepGaze MR (video) or DeepGaze IIE / III (per frame).
#
#   video ─ probe_video ─┐
#   download_weights ────┼─ predict_chunk (one GPU job per chunk) ─ assemble_zarr
#                        │  └─ render_segment (per chunk, from its store) ─ join_videos
#                        │  └─ export_segment (optional PNG / .npy) ─ export_png / export_npy
#                        │  └─ evaluate.smk: with gaze/AOI CSVs, metrics, AOIs over
#                        │     time, human heatmaps; figures of `snakemake --report`
#
# Thin rules: each calls one step of `python -m salience` (workflow_scripts/salience).

from snakemake.utils import min_version

min_version("8.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/weights.smk"
include: "rules/predict.smk"
include: "rules/segments.smk"
include: "rules/render.smk"
include: "rules/evaluate.smk"


rule all:
    input:
        final_outputs(),
        evaluation_outputs(),
    default_target: True
