"""Which device a prediction runs on, and whether the GPU a job was given can be used.

The rule: the GPU a job gets is the GPU it uses. A job that was given a GPU
(Slurm's ``SLURM_JOB_GPUS``/``SLURM_STEP_GPUS``/``CUDA_VISIBLE_DEVICES``
inside a job, or ``device: cuda`` as the workstation profile sets it) and
cannot use it stops at once with one line (:class:`GpuUnusable`): what torch
sees (its CUDA build, the driver, each GPU's compute capability against the
architectures the build has kernels for) and the fix. Only a run that asked
for no GPU predicts on the CPU; a GPU job that fell back to the CPU would run
50-100x slower inside its allocation and die at its time limit.

Workstations with several GPUs: jobs running side by side each claim a
different GPU through a lock file (:func:`claim_free_gpu`). The claim is a plain
``fcntl.flock`` on one file per GPU, held for the life of the process: the
kernel drops it however the process dies, which is the whole point.
``filelock`` would serve the same lock on Linux (its Unix lock is this
``flock``) and add a dependency for it; its portability to Windows is not
needed by a workflow that runs on Linux GPU nodes.

``python -m salience doctor`` prints :func:`inspect_cuda`'s report and the
verdict; the tests fake torch's CUDA queries to check every verdict on a CPU.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import SalienceError

log = logging.getLogger(__name__)

# Oldest NVIDIA Linux driver each CUDA major version runs on (CUDA's minor
# version compatibility: any 12.x build runs on a 12.0-era driver).
MIN_DRIVER_FOR_CUDA = {11: 450, 12: 525, 13: 580}
# Where PyTorch publishes builds for each CUDA version (pip --index-url).
CUDA_12_INDEX = "https://download.pytorch.org/whl/cu126"
LOCK_FOLDER_VARIABLE = "SALIENCE_GPU_LOCKS"
DEFAULT_LOCK_FOLDER = "/tmp/salience-gpu-locks"


class GpuUnusable(SalienceError):
    """A GPU was asked for (by the job's allocation or the config) and torch cannot use it."""


# --- what was asked for ---------------------------------------------------------

def _set(value: str | None) -> bool:
    # Slurm and CUDA spell "no device" as unset, empty, "-1" or "NoDevFiles".
    return bool(value) and value not in ("-1", "NoDevFiles")


def gpu_allocation(environ=None) -> str | None:
    """How this process was given a GPU by a scheduler, as ``NAME=value``; None if it was not.

    Slurm exports the GPUs of a job in ``SLURM_JOB_GPUS`` (``--gres``) or
    ``SLURM_STEP_GPUS`` (``srun``), and in ``CUDA_VISIBLE_DEVICES`` (``--gpus``
    too). Outside a Slurm job, ``CUDA_VISIBLE_DEVICES`` is only a filter a
    user may have set, not a promise that a GPU exists.
    """
    environ = os.environ if environ is None else environ
    for name in ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS"):
        if _set(environ.get(name)):
            return f"{name}={environ[name]}"
    if environ.get("SLURM_JOB_ID") and _set(environ.get("CUDA_VISIBLE_DEVICES")):
        return f"CUDA_VISIBLE_DEVICES={environ['CUDA_VISIBLE_DEVICES']}"
    return None


# --- what torch sees --------------------------------------------------------------

@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    capability: tuple[int, int]

    @property
    def sm(self) -> str:
        return f"sm_{self.capability[0]}{self.capability[1]}"


@dataclass
class CudaReport:
    """What this process's torch can do with the GPUs of this machine."""

    torch_version: str
    cuda_build: str | None  # torch.version.cuda: None for a CPU-only build
    driver: str | None  # the NVIDIA kernel driver, e.g. "535.104.05"; None: none found
    available: bool  # torch.cuda.is_available()
    gpus: list[Gpu] = field(default_factory=list)  # from torch, else from nvidia-smi
    arch_list: list[str] = field(default_factory=list)  # torch.cuda.get_arch_list()
    visible: str | None = None  # CUDA_VISIBLE_DEVICES

    def summary(self) -> str:
        build = f"CUDA {self.cuda_build} build" if self.cuda_build else "CPU-only build"
        gpus = ", ".join(f"{g.index}: {g.name} ({g.sm})" for g in self.gpus) or "none"
        archs = arch_range(self.arch_list) or "none"
        return (f"torch {self.torch_version} ({build}, kernels for {archs}); NVIDIA driver "
                f"{self.driver or 'not found'}; GPUs: {gpus}; CUDA_VISIBLE_DEVICES="
                f"{self.visible if self.visible is not None else '<unset>'}")


def arch_range(arch_list: list[str]) -> str:
    """["sm_75", "sm_80", ..., "sm_120"] → "sm_75..sm_120"."""
    sms = [a for a in arch_list if a.startswith("sm_")]
    if not sms:
        return ", ".join(arch_list)
    return sms[0] if len(sms) == 1 else f"{sms[0]}..{sms[-1]}"


def driver_version() -> str | None:
    """The loaded NVIDIA kernel driver's version, without initialising CUDA."""
    try:
        text = Path("/proc/driver/nvidia/version").read_text()
    except OSError:
        text = ""
    match = re.search(r"Kernel Module(?: for \w+)?\s+(\d+\.\d+(?:\.\d+)?)", text)
    if match:
        return match.group(1)
    smi = nvidia_smi()
    return smi[0][2] if smi else None


def nvidia_smi() -> list[tuple[str, tuple[int, int], str]]:
    """(name, capability, driver) of each GPU as nvidia-smi lists them; [] without nvidia-smi.

    Asked when torch cannot see the GPUs itself (driver too old, CPU-only
    build), so that the message still names the card.
    """
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or not re.fullmatch(r"\d+\.\d+", parts[1]):
            continue
        major, minor = parts[1].split(".")
        gpus.append((parts[0], (int(major), int(minor)), parts[2]))
    return gpus


def inspect_cuda(environ=None) -> CudaReport:
    environ = os.environ if environ is None else environ
    cuda_build = torch.version.cuda
    available = bool(cuda_build) and torch.cuda.is_available()
    gpus = []
    arch_list = []
    if available:
        arch_list = list(torch.cuda.get_arch_list())
        for index in range(torch.cuda.device_count()):
            gpus.append(Gpu(index, torch.cuda.get_device_name(index),
                            tuple(torch.cuda.get_device_capability(index))))
    else:
        if cuda_build:
            arch_list = list(torch.cuda.get_arch_list())
        gpus = [Gpu(index, name, capability) for index, (name, capability, _) in enumerate(nvidia_smi())]
    return CudaReport(torch_version=torch.__version__.split("+")[0], cuda_build=cuda_build,
                      driver=driver_version(), available=available, gpus=gpus, arch_list=arch_list,
                      visible=environ.get("CUDA_VISIBLE_DEVICES"))


# --- the verdict ----------------------------------------------------------------

def has_kernels(capability: tuple[int, int], arch_list: list[str]) -> bool:
    """Whether a build with ``arch_list`` runs on a GPU of ``capability``.

    Machine code (``sm_XY``) runs on GPUs of the same major version and an
    equal or higher minor one; PTX (``compute_XY``) is compiled on the spot
    for any GPU at least as new. Architecture-specific code (``sm_90a``) runs
    on that exact capability only.
    """
    for arch in arch_list:
        match = re.fullmatch(r"(sm|compute)_(\d+)(\d)([af]?)", arch)
        if not match:
            continue
        kind, major, minor, suffix = match.group(1), int(match.group(2)), int(match.group(3)), match.group(4)
        if suffix:
            if capability == (major, minor):
                return True
        elif kind == "sm" and capability[0] == major and capability[1] >= minor:
            return True
        elif kind == "compute" and capability >= (major, minor):
            return True
    return False


def _driver_major(driver: str | None) -> int | None:
    match = re.match(r"(\d+)", driver or "")
    return int(match.group(1)) if match else None


def problem(report: CudaReport) -> str | None:
    """Why torch cannot run on the GPU(s) of ``report``, with the fix; None if it can."""
    cuda_major = int(report.cuda_build.split(".")[0]) if report.cuda_build else None
    if cuda_major is None:
        return (f"torch {report.torch_version} is a CPU-only build: install a CUDA build into this "
                f"environment (pip install --force-reinstall torch torchvision --index-url "
                f"{CUDA_12_INDEX} runs on drivers >= {MIN_DRIVER_FOR_CUDA[12]})")
    needed = MIN_DRIVER_FOR_CUDA.get(cuda_major)
    driver = _driver_major(report.driver)
    if not report.available and driver is not None and needed is not None and driver < needed:
        return (f"torch {report.torch_version} is a CUDA {report.cuda_build} build, which needs an "
                f"NVIDIA driver >= {needed}, but this node's driver is {report.driver}: install a "
                f"CUDA 12.x build (pip install --force-reinstall torch torchvision --index-url "
                f"{CUDA_12_INDEX}, drivers >= {MIN_DRIVER_FOR_CUDA[12]}) or run on nodes with a newer driver")
    unsupported = [g for g in report.gpus if not has_kernels(g.capability, report.arch_list)]
    if unsupported and report.arch_list:
        cards = ", ".join(sorted({f"{g.name} ({g.sm})" for g in unsupported}))
        return (f"torch {report.torch_version} (CUDA {report.cuda_build} build) has kernels for "
                f"{arch_range(report.arch_list)} only, not for {cards}: keep jobs off these cards "
                f"(SALIENCE_GPU_MODEL=<a supported type>, or sbatch --exclude=<their nodes>) or install "
                f"a torch build whose torch.cuda.get_arch_list() includes {unsupported[0].sm}")
    if not report.available or not report.gpus:
        if report.driver is None:
            return ("no NVIDIA driver is loaded on this node (no /proc/driver/nvidia/version, no "
                    "nvidia-smi): run on a GPU node")
        return (f"torch {report.torch_version} (CUDA {report.cuda_build} build) sees no GPU with driver "
                f"{report.driver} (CUDA_VISIBLE_DEVICES={report.visible}): check that the job's GPU is "
                f"visible (nvidia-smi) and not in use by another process in exclusive mode")
    return None


def _unusable(why: str, asked: str, report: CudaReport) -> GpuUnusable:
    return GpuUnusable(f"{asked}, but torch cannot use it: {why}. [{report.summary()}] "
                       "Details: python -m salience doctor")


def resolve_device(device: str | torch.device | None = None, environ=None) -> torch.device:
    """The device to predict on; a job given a GPU gets that GPU or fails at once.

    ``None``/"auto": the GPU a scheduler gave this job (which must then work),
    else a GPU torch sees, else the CPU with a warning. "cuda": a GPU, which
    must work; on a workstation with several, a free one (lock files).
    "cuda:N": that GPU. "cpu": the CPU, even in a GPU allocation (with a
    warning: the GPU idles).
    """
    if isinstance(device, torch.device):
        return device  # resolved already (or chosen by code that knows what it does)
    environ = os.environ if environ is None else environ
    asked = "auto" if device is None else str(device)
    allocation = gpu_allocation(environ)
    if asked == "cpu":
        if allocation:
            log.warning("device cpu as configured, although this job was given a GPU (%s, "
                        "CUDA_VISIBLE_DEVICES=%s): it stays idle", allocation,
                        environ.get("CUDA_VISIBLE_DEVICES", "<unset>"))
        return torch.device("cpu")
    if asked != "auto" and not asked.startswith("cuda"):
        return torch.device(asked)  # another backend, as given
    if asked == "auto" and allocation is None:
        if not (torch.version.cuda and torch.cuda.is_available()):
            log.warning("no GPU visible (CUDA_VISIBLE_DEVICES=%s): predicting on the CPU, which is "
                        "50-100x slower", environ.get("CUDA_VISIBLE_DEVICES", "<unset>"))
            return torch.device("cpu")
    report = inspect_cuda(environ)
    why = problem(report)
    if why is not None:
        reason = f"this job was given a GPU ({allocation})" if allocation else f"device {asked!r} was asked for"
        raise _unusable(why, reason, report)
    count = len(report.gpus)
    if asked.startswith("cuda:"):
        index = int(asked.split(":", 1)[1])
        if index >= count:
            raise GpuUnusable(f"device {asked!r} was asked for, but torch sees {count} GPU(s) "
                              f"(CUDA_VISIBLE_DEVICES={report.visible}): use cuda:0..cuda:{count - 1} or cuda")
        chosen = torch.device("cuda", index)
    else:
        chosen = torch.device("cuda", claim_free_gpu(count) if count > 1 else 0)
    log.info("predicting on %s: %s", chosen, report.summary())
    return chosen


# --- several GPUs on one machine ------------------------------------------------

_CLAIMED_GPU = {}  # index -> open lock file, held for the life of the process


def claim_free_gpu(count: int, wait_s: float = 600.0) -> int:
    """Index of a GPU no other salience process on this machine holds.

    Each GPU has a lock file (``$SALIENCE_GPU_LOCKS``, default
    ``/tmp/salience-gpu-locks``); the kernel releases a lock when its process
    ends, so a killed job frees its GPU. Waits up to ``wait_s`` for a free one.
    Indices count the GPUs this process sees: jobs with different
    ``CUDA_VISIBLE_DEVICES`` should use different lock folders.
    """
    if _CLAIMED_GPU:
        return next(iter(_CLAIMED_GPU))
    import fcntl

    folder = Path(os.environ.get(LOCK_FOLDER_VARIABLE, DEFAULT_LOCK_FOLDER))
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    while True:
        for index in range(count):
            handle = open(folder / f"gpu{index}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            _CLAIMED_GPU[index] = handle
            log.info("using GPU %d of %d (lock %s)", index, count, handle.name)
            return index
        if time.monotonic() > deadline:
            log.warning("all %d GPUs are held by other jobs; sharing GPU 0", count)
            return 0
        time.sleep(2.0)


# --- out of memory ----------------------------------------------------------------

def out_of_memory_message(device, batch_size: int, width: int, height: int) -> str:
    """One line for a job that ran out of GPU memory: what it tried and what to change."""
    return (f"out of GPU memory on {device} predicting {width}x{height} frames with batch_size "
            f"{batch_size}: lower batch_size (config 'batch_size'; it never changes the result), "
            f"set precision: bf16, or ask for a GPU with more memory; nothing was written")


# --- doctor -------------------------------------------------------------------------

FORWARD_TOLERANCE = 1e-4  # fp32 on a device vs float64 on the CPU, TF32 off


def _tiny_network() -> torch.nn.Module:
    """A few convolutions and a linear layer, the kinds of kernels the models use."""
    generator = torch.Generator().manual_seed(0)
    network = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(128, 10),
    )
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.copy_(torch.rand(parameter.shape, generator=generator) - 0.5)
    return network.eval()


def forward_check(device: torch.device) -> str:
    """A tiny forward pass on ``device``: one line saying whether it ran and matched the CPU.

    fp32 is compared with a float64 run on the CPU (TF32 off); on CUDA bf16
    autocast runs too. A build without kernels for the GPU fails here with
    torch's "no kernel image is available".
    """
    network = _tiny_network()
    frames = torch.rand((2, 3, 48, 64), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = network.double()(frames.double())
    started = time.perf_counter()
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        with torch.inference_mode():
            moved = network.float().to(device)
            got = moved(frames.to(device)).cpu().double()
            bf16 = ""
            if device.type == "cuda":
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    low = moved(frames.to(device)).float().cpu().double()
                bf16 = f", bf16 max abs diff {float((low - expected).abs().max()):.1e}"
            if device.type == "cuda":
                torch.cuda.synchronize(device)
    except Exception as error:  # noqa: BLE001 - the doctor reports whatever breaks
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"forward pass on {device}: FAILED: {type(error).__name__}: {first_line}"
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    difference = float((got - expected).abs().max())
    verdict = "ok" if difference <= FORWARD_TOLERANCE else f"WRONG (over {FORWARD_TOLERANCE:g})"
    name = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    return (f"forward pass on {device}{name}: {verdict}, fp32 max abs diff vs float64 "
            f"{difference:.1e}{bf16}, {time.perf_counter() - started:.2f} s")


def doctor(device: str = "auto", environ=None) -> tuple[list[str], bool]:
    """The diagnosis ``python -m salience doctor`` prints, and whether a job here would run."""
    environ = os.environ if environ is None else environ
    report = inspect_cuda(environ)
    allocation = gpu_allocation(environ)
    lines = [
        f"torch: {report.summary()}",
        f"GPU given to this process by a scheduler: {allocation or 'none'}",
        f"CUDA: {problem(report) or 'usable'}",
    ]
    ok = True
    try:
        chosen = resolve_device(device, environ)
        lines.append(f"a prediction with device {device!r} here runs on: {chosen}")
    except GpuUnusable as error:
        lines.append(f"a prediction with device {device!r} here fails: {error}")
        ok = False
    devices = [torch.device("cpu")]
    if report.available:
        devices += [torch.device("cuda", g.index) for g in report.gpus]
    for candidate in devices:
        line = forward_check(candidate)
        ok = ok and "FAILED" not in line and "WRONG" not in line
        lines.append(line)
    lines.append("verdict: ok" if ok else "verdict: NOT OK (see above)")
    return lines, ok
