"""The GPU a job gets is the GPU it uses: the preflight decision, with torch's CUDA queries faked.

Every case a Beocat job can meet runs here on a CPU: given a GPU or not, a
driver too old for torch's CUDA build, a GPU generation the build has no
kernels for, a CPU-only torch, and a usable GPU (one, or two shared by two
jobs through the lock files). Also the one-line out-of-memory failure and
``python -m salience doctor``.
"""

import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from helpers.videos import make_video

from salience import device as device_module
from salience.__main__ import main
from salience.device import GpuUnusable, gpu_allocation, has_kernels, problem, resolve_device

CUDA13_ARCHS = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]  # torch 2.14.1 from PyPI
H100 = ("NVIDIA H100 80GB HBM3", (9, 0))
GP100 = ("Quadro GP100", (6, 0))
SLURM_GPU = {"SLURM_JOB_ID": "42", "SLURM_JOB_GPUS": "0", "CUDA_VISIBLE_DEVICES": "0"}


@pytest.fixture
def fake_cuda(monkeypatch, tmp_path):
    """Set what torch and the node report: ``fake_cuda(build=..., gpus=[(name, cap)], ...)``."""
    monkeypatch.setenv("SALIENCE_GPU_LOCKS", str(tmp_path / "locks"))
    monkeypatch.setattr(device_module, "_CLAIMED_GPU", {})

    def fake(build="13.0", driver="580.95.05", gpus=(H100,), available=True, archs=CUDA13_ARCHS):
        seen = list(gpus) if available else []
        monkeypatch.setattr(torch.version, "cuda", build)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: len(seen))
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: seen[index][0])
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=0: seen[index][1])
        monkeypatch.setattr(torch.cuda, "get_arch_list", lambda: list(archs) if build else [])
        monkeypatch.setattr(device_module, "driver_version", lambda: driver)
        # nvidia-smi sees the cards whatever torch thinks of them
        monkeypatch.setattr(device_module, "nvidia_smi",
                            lambda: [(name, cap, driver) for name, cap in gpus] if driver else [])

    return fake


def one_line(error) -> str:
    text = str(error)
    assert "\n" not in text
    return text


# --------------------------------------------------------------------------- asked for a GPU?


@pytest.mark.parametrize("environ, given", [
    ({}, None),
    ({"CUDA_VISIBLE_DEVICES": "0"}, None),  # a user's filter outside Slurm promises nothing
    ({"SLURM_JOB_ID": "7"}, None),  # a CPU job
    ({"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": ""}, None),
    ({"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "NoDevFiles"}, None),
    ({"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "1"}, "CUDA_VISIBLE_DEVICES=1"),  # --gpus=1
    ({"SLURM_JOB_ID": "7", "SLURM_JOB_GPUS": "3", "CUDA_VISIBLE_DEVICES": "0"}, "SLURM_JOB_GPUS=3"),
    ({"SLURM_STEP_GPUS": "0"}, "SLURM_STEP_GPUS=0"),  # srun --gres=gpu:1
])
def test_a_gpu_is_given_by_slurm_only(environ, given):
    assert gpu_allocation(environ) == given


# --------------------------------------------------------------------------- the verdicts


def test_given_a_gpu_and_a_driver_too_old_for_the_build_fails_at_once(fake_cuda):
    fake_cuda(build="13.0", driver="535.104.05", gpus=[("NVIDIA GeForce RTX 3090", (8, 6))], available=False)
    with pytest.raises(GpuUnusable) as error:
        resolve_device("auto", SLURM_GPU)
    text = one_line(error.value)
    assert "given a GPU (SLURM_JOB_GPUS=0)" in text
    assert "CUDA 13.0 build" in text and ">= 580" in text and "535.104.05" in text
    assert "--index-url https://download.pytorch.org/whl/cu126" in text  # the fix
    assert "RTX 3090 (sm_86)" in text  # the card, from nvidia-smi, although torch cannot see it


def test_given_a_gpu_without_kernels_in_the_build_fails_at_once(fake_cuda):
    fake_cuda(gpus=[GP100])  # Beocat's Pascal cards under torch 2.14.1's CUDA 13.0 build
    with pytest.raises(GpuUnusable) as error:
        resolve_device("auto", SLURM_GPU)
    text = one_line(error.value)
    assert "sm_75..sm_120" in text and "Quadro GP100 (sm_60)" in text
    assert "SALIENCE_GPU_MODEL" in text and "--exclude" in text  # keep jobs off these cards


def test_given_a_gpu_with_a_cpu_only_torch_fails_at_once(fake_cuda):
    fake_cuda(build=None, gpus=[("NVIDIA RTX A4000", (8, 6))], available=False)
    with pytest.raises(GpuUnusable) as error:
        resolve_device(None, SLURM_GPU)
    text = one_line(error.value)
    assert "CPU-only build" in text and "pip install" in text and "cu126" in text


def test_given_a_gpu_on_a_node_without_a_driver_fails_at_once(fake_cuda):
    fake_cuda(driver=None, gpus=[], available=False)
    with pytest.raises(GpuUnusable, match="no NVIDIA driver"):
        resolve_device("auto", SLURM_GPU)


def test_device_cuda_on_a_machine_without_a_gpu_fails_at_once(fake_cuda):
    fake_cuda(driver=None, gpus=[], available=False)
    with pytest.raises(GpuUnusable) as error:
        resolve_device("cuda", {})
    assert "device 'cuda' was asked for" in one_line(error.value)


def test_a_gpu_index_that_is_not_there_fails(fake_cuda):
    fake_cuda(gpus=[H100])
    with pytest.raises(GpuUnusable, match=r"cuda:3.*sees 1 GPU"):
        resolve_device("cuda:3", {})


def test_not_given_a_gpu_falls_back_to_the_cpu_with_a_warning(fake_cuda, caplog):
    fake_cuda(driver=None, gpus=[], available=False)
    with caplog.at_level(logging.WARNING):
        assert resolve_device("auto", {}) == torch.device("cpu")
    assert "predicting on the CPU" in caplog.text


def test_device_cpu_is_honoured_inside_a_gpu_job_and_the_idle_gpu_named(fake_cuda, caplog):
    fake_cuda(gpus=[GP100])  # unusable, but not asked for
    with caplog.at_level(logging.WARNING):
        assert resolve_device("cpu", SLURM_GPU) == torch.device("cpu")
    assert "SLURM_JOB_GPUS=0" in caplog.text


def test_a_usable_gpu_is_used(fake_cuda):
    fake_cuda(gpus=[H100])
    assert resolve_device("auto", SLURM_GPU) == torch.device("cuda", 0)
    assert resolve_device("cuda", {}) == torch.device("cuda", 0)
    assert problem(device_module.inspect_cuda({})) is None


def test_a_build_for_an_older_cuda_on_a_newer_driver_is_fine(fake_cuda):
    fake_cuda(build="12.6", driver="580.95.05", gpus=[GP100], archs=["sm_50", "sm_60", "sm_70", "sm_90"])
    assert resolve_device("auto", SLURM_GPU) == torch.device("cuda", 0)


@pytest.mark.parametrize("capability, archs, runs", [
    ((9, 0), CUDA13_ARCHS, True),
    ((8, 9), CUDA13_ARCHS, True),  # sm_86 code runs on 8.9 (same major, higher minor)
    ((12, 1), CUDA13_ARCHS, True),
    ((6, 0), CUDA13_ARCHS, False),
    ((7, 0), CUDA13_ARCHS, False),  # sm_75 code does not run on 7.0
    ((10, 0), ["sm_80", "compute_90"], True),  # PTX is compiled for newer GPUs
    ((9, 0), ["sm_90a"], True),
    ((10, 0), ["sm_90a"], False),
])
def test_which_builds_run_on_which_gpus(capability, archs, runs):
    assert has_kernels(capability, archs) is runs


# --------------------------------------------------------------------------- two jobs, two GPUs

CLAIM = textwrap.dedent("""
    import os, sys, time, torch
    from salience.device import resolve_device
    visible = os.environ["CUDA_VISIBLE_DEVICES"].split(",")
    torch.version.cuda = "13.0"
    torch.cuda.is_available = lambda: True
    torch.cuda.device_count = lambda: len(visible)
    torch.cuda.get_device_name = lambda i=0: "fake H100"
    torch.cuda.get_device_capability = lambda i=0: (9, 0)
    torch.cuda.get_arch_list = lambda: ["sm_90"]
    print(resolve_device(sys.argv[1]), flush=True)
    sys.stdin.read()  # hold the GPU until told to go
""")


def test_two_jobs_on_a_two_gpu_workstation_claim_different_gpus(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1", "SALIENCE_GPU_LOCKS": str(tmp_path / "locks")}
    env.pop("SLURM_JOB_ID", None)
    jobs = [subprocess.Popen([sys.executable, "-c", CLAIM, "cuda"], env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(2)]
    try:
        claimed = [job.stdout.readline().strip() for job in jobs]
        assert sorted(claimed) == ["cuda:0", "cuda:1"]
        jobs[0].communicate("", timeout=30)  # the first job ends: the kernel frees its lock
        third = subprocess.run([sys.executable, "-c", CLAIM, "auto"], env=env, input="", text=True,
                               capture_output=True, timeout=60)
        assert third.returncode == 0, third.stderr
        assert third.stdout.strip() == claimed[0]  # not the GPU the second job still holds
    finally:
        for job in jobs:
            if job.poll() is None:
                job.communicate("", timeout=30)


# --------------------------------------------------------------------------- out of memory


def test_out_of_memory_is_one_line_naming_batch_size_and_frame_size(tmp_path, monkeypatch, capsys):
    video = make_video(tmp_path / "clip.mp4", frames=6, size="48x32")
    import salience.predict

    def runs_out(*args, **options):
        yield 0, np.zeros((32, 48), np.float32)
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(salience.predict, "predict_range", runs_out)
    output = tmp_path / "s.zarr"
    code = main(["predict", str(video), "--output", str(output), "--weights", "untrained",
                 "--device", "cpu", "--batch-size", "16"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: out of GPU memory")
    assert "batch_size 16" in err[0] and "48x32 frames" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # nothing half-written


# --------------------------------------------------------------------------- doctor


def test_doctor_prints_the_diagnosis_and_runs_a_forward_pass():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    result = subprocess.run([sys.executable, "-m", "salience", "doctor"], capture_output=True,
                            text=True, timeout=120, env=env)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("torch: torch ") and "build" in lines[0] and "NVIDIA driver" in lines[0]
    assert any(line.startswith("forward pass on cpu: ok") for line in lines)
    if torch.cuda.is_available():
        assert any(line.startswith("forward pass on cuda:0") for line in lines)
    assert result.returncode == (0 if lines[-1] == "verdict: ok" else 2), result.stdout + result.stderr


def test_doctor_in_a_gpu_job_that_cannot_use_its_gpu_says_why(fake_cuda):
    fake_cuda(gpus=[GP100])
    lines, ok = device_module.doctor("auto", SLURM_GPU)
    assert not ok and lines[-1].startswith("verdict: NOT OK")
    assert any("fails: this job was given a GPU" in line and "sm_60" in line for line in lines)
    assert any(line.startswith("forward pass on cpu: ok") for line in lines)


# --------------------------------------------------------------------------- the user's path, unfaked


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a usable GPU")
@pytest.mark.parametrize("device, env", [
    ("cuda", {}),  # the config asks for a GPU (the workstation profile does)
    ("auto", {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "0"}),  # Slurm gave the job one
])
def test_a_prediction_given_a_gpu_it_cannot_use_stops_at_once(tmp_path, device, env):
    video = make_video(tmp_path / "clip.mp4", frames=4, size="48x32")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")} | env
    result = subprocess.run(
        [sys.executable, "-m", "salience", "predict", str(video), "--output", str(tmp_path / "s.zarr"),
         "--weights", "untrained", "--device", device], capture_output=True, text=True, timeout=120, env=environ)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "torch cannot use it" in errors[0] and "python -m salience doctor" in errors[0]
    assert "Traceback" not in result.stderr and "frames/s" not in result.stderr  # nothing was predicted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
