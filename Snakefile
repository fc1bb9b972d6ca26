# Saliency for videos: DeepGaze MR (video) or DeepGaze IIE / III (per frame).
#
#   video ─ probe_video (checkpoint: one full decode plans the chunks)
#   download_weights (submit host: the weights record)
#     └─ predict_chunk ×N (one GPU job per chunk)
#          ├─ render_segment ×N (each from its own chunk) ─ join_videos (heatmap.mp4, overlay.mp4)
#          ├─ export_segment ×N (optional PNG / .npy) ─ export_png / export_npy
#          └─ assemble_zarr (saliency.zarr: shard files linked, not copied)
#               └─ evaluate.smk: with gaze / AOI CSVs, metrics, AOIs over time,
#                  human heatmaps; the figures of `snakemake --report`
#
# Thin rules: each calls one step of `python -m salience` (workflow_scripts/salience).

from snakemake.utils import min_version

min_version("9.0")  # as pyproject.toml; tested with 9.27


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/weights.smk"
include: "rules/predict.smk"
include: "rules/segments.smk"
include: "rules/render.smk"
include: "rules/evaluate.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
        evaluation_outputs(),
