# The weights record: every file the model needs (checkpoint, center bias),
# official ones downloaded here on the submit host (cluster compute nodes often
# have no internet), each with its sha256. Prediction reads only this record.
# The step's output goes to the console as well as the log: a failed download
# says why (and how to run offline) where the user is looking.


localrules:
    download_weights,


rule download_weights:
    input:
        unpack(model_files),
    output:
        "results/weights/{model}.json",
    log:
        "logs/download_weights/{model}.log",
    conda:
        "../envs/salience.yaml"
    params:
        **content_params(model_files(None)),
        weights=config["weights"],
        center_bias=config["center_bias"],
    shell:
        "python -m salience download --model {wildcards.model} "
        "--weights {params.weights:q} --center-bias {params.center_bias:q} "
        "--output {output:q} 2>&1 | tee {log:q} >&2"
