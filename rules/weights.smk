# Official checkpoints are downloaded on the submit host: cluster compute
# nodes often have no internet.


localrules:
    download_weights,


rule download_weights:
    output:
        "results/weights/{model}.json",
    params:
        weights=config["weights"],
        center_bias=config["center_bias"],
    conda:
        "../envs/salience.yaml"
    log:
        "logs/download_weights/{model}.log",
    shell:
        "python -m salience download --model {wildcards.model} "
        "--weights {params.weights:q} --center-bias {params.center_bias:q} "
        "--output {output:q} > {log:q} 2>&1"
