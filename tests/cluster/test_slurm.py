"""The real workflow on a real Slurm, through the Beocat profile.

Needs the one-node cluster of tests/slurm/start_slurm.sh (partitions batch.q
and ksu-gen-gpu.q, two fake GPUs); without it the module is skipped with the
reason. SALIENCE_REQUIRE_SLURM=1 makes that a failure instead: CI should set
it once start_slurm.sh has succeeded.

One Slurm run of a 40-frame video in 4 chunks is shared by most tests below;
while it runs, one prediction job is cancelled after it has written part of
its chunk, and the profile's retries must still give a complete, correct
result. A second run loses its Snakemake process (SIGKILL, as when a login
session or a head job dies) mid-chunk and is resumed the documented way
(`--unlock`, then the same command). The predicted maps of both must equal
those of a local `snakemake --cores 2` run of the same config.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers.snakemake import REPO, command

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

GPU_PARTITION = "ksu-gen-gpu.q"
CPU_PARTITION = "batch.q"
FRAMES, CHUNK, WIDTH, HEIGHT, BATCH = 40, 10, 64, 48, 2
CHUNKS = [f"{s:07d}-{s + CHUNK:07d}" for s in range(0, FRAMES, CHUNK)]
RUN_TIMEOUT_S = 420


# --------------------------------------------------------------------- cluster

def _slurm_unavailable() -> str | None:
    """Why the CI cluster cannot be used, or None when it can."""
    if shutil.which("sinfo") is None:
        return "no Slurm here (sinfo not found); start it with tests/slurm/start_slurm.sh"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P %t"], check=False, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "sinfo timed out: slurmctld is not answering"
    if out.returncode != 0:
        return f"Slurm daemons not up (sinfo: {out.stderr.strip()[:200]}); run tests/slurm/start_slurm.sh"
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()]
    partitions = {p.rstrip("*") for p, *_ in rows}
    missing = {GPU_PARTITION, CPU_PARTITION} - partitions
    if missing:
        return f"this Slurm lacks the Beocat partitions {sorted(missing)}; it is not tests/slurm/start_slurm.sh's"
    if not any(s.rstrip("*~#") in ("idle", "mix", "alloc") for _, s in rows):
        return f"no Slurm node is up (states: {sorted({s for _, s in rows})})"
    return None


@pytest.fixture(scope="module")
def slurm_cluster():
    reason = _slurm_unavailable()
    if reason:
        if os.environ.get("SALIENCE_REQUIRE_SLURM") == "1":
            pytest.fail(f"SALIENCE_REQUIRE_SLURM=1 but {reason}")
        print(f"test_slurm: skipped: {reason}")
        pytest.skip(reason)
    if not (REPO / "Snakefile").exists():
        pytest.skip(f"{REPO / 'Snakefile'} does not exist yet")


def _scontrol_jobs() -> list[dict]:
    """Every job slurmctld still remembers (MinJobAge), as key -> value dicts."""
    out = subprocess.run(["scontrol", "-o", "show", "job"], capture_output=True, text=True, check=True)
    jobs = []
    for line in out.stdout.splitlines():
        if not line.startswith("JobId="):
            continue
        record = {}
        for token in line.split():
            key, sep, value = token.partition("=")
            if sep:
                record[key] = value
        jobs.append(record)
    return jobs


def _squeue(prefix: str) -> list[tuple[str, str, str]]:
    """(job id, comment, state) of the jobs whose name starts with ``prefix``."""
    out = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i|%j|%k|%T"],
                         check=False, capture_output=True, text=True)
    rows = []
    for line in out.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 4 and parts[1].startswith(prefix):
            rows.append((parts[0], parts[2], parts[3]))
    return rows


def _cancel_all(prefix: str) -> None:
    ids = [jid for jid, _, state in _squeue(prefix) if state in ("PENDING", "RUNNING", "CONFIGURING")]
    if ids:
        subprocess.run(["scancel", *ids], check=False, capture_output=True)


# --------------------------------------------------------------------- inputs

def _load_make_profile():
    spec = importlib.util.spec_from_file_location("make_profile", REPO / "tests" / "slurm" / "make_profile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, slurm_cluster):
    """A small H.264 clip shared by every run."""
    from helpers.videos import make_video

    root = tmp_path_factory.mktemp("slurm_inputs")
    return make_video(root / "clip.mp4", frames=FRAMES, size=f"{WIDTH}x{HEIGHT}", fps=25)


def _workdir(base: Path, video: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    shutil.copy(video, base / "clip.mp4")
    # Untrained weights are seeded, so every job of every run computes with
    # the same random network and the runs can be compared exactly.
    (base / "config.yaml").write_text(
        "videos: [clip.mp4]\n"
        "model: deepgaze_mr\n"
        "weights: untrained\n"
        f"chunk_frames: {CHUNK}\n"
        # Shards of 2 frames: a chunk's frames reach the disk while it runs,
        # so that a job can be caught (and killed) mid-chunk.
        "shard_frames: 2\n"
        f"batch_size: {BATCH}\n"
        "threads: 2\n"
        # The test node's GPUs are fakes: a job given a GPU it cannot use
        # fails at once (salience.device), so these jobs ask for the CPU.
        "device: cpu\n"
    )
    return base


def _log_density(workdir: Path) -> np.ndarray:
    import zarr

    return zarr.open_group(str(workdir / "results" / "clip" / "saliency.zarr"), mode="r")["log_density"][:]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, inputs):
    workdir = _workdir(tmp_path_factory.mktemp("local"), inputs)
    run = subprocess.run(command(workdir, "--cores", "2"), check=False, capture_output=True, text=True,
                         timeout=RUN_TIMEOUT_S)
    assert run.returncode == 0, f"local run failed:\n{run.stdout[-3000:]}\n{run.stderr[-5000:]}"
    return _log_density(workdir)


# --------------------------------------------------------------------- the Slurm run

@dataclass
class SlurmRun:
    workdir: Path
    prefix: str
    returncode: int
    log: str
    seconds: float
    jobs: list[dict] = field(default_factory=list)
    killed: tuple[str, str] | None = None  # (Slurm job id, chunk)
    kill_note: str = ""


def _chunk_of(comment: str) -> str | None:
    match = re.search(r"(\d{7}-\d{7})$", comment)
    return match.group(1) if match else None


def _partial_frames(workdir: Path, chunk: str) -> int:
    """Frames already written into a chunk store still being built (atomic scratch dir)."""
    chunks_dir = workdir / "results" / "clip" / "chunks"
    return sum(1 for scratch in chunks_dir.glob(f".{chunk}.zarr.*.partial")
               for f in scratch.glob("log_density/c/*/*/*") if f.is_file())


def _wait_mid_chunk(proc: subprocess.Popen, workdir: Path, prefix: str, deadline: float):
    """(job id, chunk) of a running prediction job with part of its chunk on disk."""
    while proc.poll() is None and time.monotonic() < deadline:
        for jid, comment, state in _squeue(prefix):
            chunk = _chunk_of(comment)
            if (state == "RUNNING" and comment.startswith("rule_predict_chunk") and chunk
                    and _partial_frames(workdir, chunk) >= 1):
                return jid, chunk
        time.sleep(0.2)
    return None


def _kill_one_predict_job(proc: subprocess.Popen, workdir: Path, prefix: str, deadline: float):
    """scancel the first prediction job seen with part of its chunk on disk."""
    found = _wait_mid_chunk(proc, workdir, prefix, deadline)
    if found is None:
        return None, "no prediction job was caught mid-chunk"
    subprocess.run(["scancel", found[0]], check=False, capture_output=True)
    return found, f"cancelled job {found[0]} ({found[1]}) mid-chunk"


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory, inputs):
    workdir = _workdir(tmp_path_factory.mktemp("slurm"), inputs)
    prefix = f"saltest{uuid.uuid4().hex[:8]}"
    profile = _load_make_profile().build_profile(tmp_path_factory.mktemp("profile"), jobname_prefix=prefix)
    log_path = workdir / "snakemake.out"
    started = time.monotonic()
    killed, note = None, "the run ended before any prediction job was seen"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command(workdir, "--profile", str(profile)),
                                stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            killed, note = _kill_one_predict_job(proc, workdir, prefix, started + RUN_TIMEOUT_S)
            proc.wait(timeout=max(1, started + RUN_TIMEOUT_S - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            _cancel_all(prefix)
    seconds = time.monotonic() - started
    jobs = [j for j in _scontrol_jobs() if j.get("JobName", "").startswith(prefix)]
    run = SlurmRun(workdir, prefix, proc.returncode, log_path.read_text(), seconds, jobs, killed, note)
    print(f"test_slurm: Slurm run took {seconds:.0f}s, {len(jobs)} Slurm jobs; {note}")
    return run


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory, inputs):
    """A run whose Snakemake is SIGKILLed mid-chunk, then resumed as docs/beocat.md says."""
    workdir = _workdir(tmp_path_factory.mktemp("resume"), inputs)
    prefix = f"saltest{uuid.uuid4().hex[:8]}"
    profile = _load_make_profile().build_profile(tmp_path_factory.mktemp("profile"), jobname_prefix=prefix)
    resume = command(workdir, "--profile", str(profile))
    started = time.monotonic()
    try:
        with open(workdir / "first.out", "w") as log:
            first = subprocess.Popen(resume, stdout=log, stderr=subprocess.STDOUT)
            try:
                caught = _wait_mid_chunk(first, workdir, prefix, started + RUN_TIMEOUT_S)
            finally:
                first.kill()  # no clean-up: its Slurm jobs run on, orphaned
                first.wait()
        assert caught, "no prediction job was caught mid-chunk: the first run ended too soon"
        # A killed Snakemake leaves its lock behind; the docs say to --unlock.
        unlock = subprocess.run([*resume, "--unlock"], check=False, capture_output=True, text=True,
                                timeout=120)
        assert unlock.returncode == 0, unlock.stderr[-3000:]
        second = subprocess.run(resume, check=False, capture_output=True, text=True,
                                timeout=max(1, started + RUN_TIMEOUT_S - time.monotonic()))
    finally:
        _cancel_all(prefix)
    print(f"test_slurm: kill + resume took {time.monotonic() - started:.0f}s "
          f"(head killed while job {caught[0] if caught else '?'} was mid-chunk)")
    return workdir, second


def _jobs_of(run: SlurmRun, rule: str) -> list[dict]:
    return [j for j in run.jobs if j.get("Comment", "").startswith(f"rule_{rule}")]


def _megabytes(value: str) -> float:
    """scontrol's memory (2052M, 4G, ...) in MB."""
    number, unit = re.fullmatch(r"([\d.]+)([KMGT]?)", value).groups()
    return float(number) * {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024**2}[unit]


def _minutes(value: str) -> int:
    """scontrol's time limit ([D-]HH:MM:SS) in minutes."""
    days, _, clock = value.rpartition("-")
    hours, minutes, seconds = (int(x) for x in clock.split(":"))
    return int(days or 0) * 1440 + hours * 60 + minutes + (seconds > 0)


def _gres(job: dict) -> str:
    return " ".join(job.get(k, "") for k in ("TresPerJob", "TresPerNode", "TresPerTask", "Gres"))


# --------------------------------------------------------------------- tests

def test_slurm_run_succeeds(slurm_run):
    assert slurm_run.returncode == 0, f"snakemake --profile failed:\n{slurm_run.log[-6000:]}"


def test_every_chunk_is_its_own_gpu_job(slurm_run):
    from salience import plan
    from salience.models import describe

    predict = _jobs_of(slurm_run, "predict_chunk")
    done = [j for j in predict if j["JobState"] == "COMPLETED"]
    assert sorted(_chunk_of(j["Comment"]) for j in done) == CHUNKS, (
        "expected exactly one completed Slurm job per chunk; got "
        + str([(j["JobId"], j["Comment"], j["JobState"]) for j in predict]))
    assert len({j["JobId"] for j in done}) == len(CHUNKS)

    # The resources the rule derives for this frame size reach sbatch.
    chunks = plan.plan_chunks(FRAMES, CHUNK, describe("deepgaze_mr").temporal_window)
    mem = plan.chunk_mem_mb(WIDTH, HEIGHT, BATCH)
    for job in predict:
        assert job["Partition"] == GPU_PARTITION, job
        assert re.search(r"gres[:/]gpu(:[\w.]+)?:1\b", _gres(job)), f"no GPU requested: {_gres(job)}"
        assert _megabytes(job["MinMemoryNode"]) == mem, job
        assert job.get("CPUs/Task") == "2", job
        chunk = next(c for c in chunks if c.name == _chunk_of(job["Comment"]))
        minutes = plan.chunk_runtime_minutes(chunk, WIDTH, HEIGHT, "deepgaze_mr")
        assert _minutes(job["TimeLimit"]) == minutes, job

    # Kept plugin logs: one per Slurm job, under the chunk's wildcards.
    logs = slurm_run.workdir / ".snakemake" / "slurm_logs" / "rule_predict_chunk"
    for job in predict:
        assert (logs / f"clip_{_chunk_of(job['Comment'])}" / f"{job['JobId']}.log").is_file()


def test_jobs_saw_their_gpu(slurm_run):
    """Slurm's GPU pick reaches the job (CUDA_VISIBLE_DEVICES), which is told to use the CPU here."""
    for chunk in CHUNKS:
        text = (slurm_run.workdir / "logs" / "clip" / "predict_chunk" / f"{chunk}.log").read_text()
        assert re.search(r"CUDA_VISIBLE_DEVICES=\d", text), f"{chunk}: {text[-800:]}"


def test_cpu_rules_on_batch_partition_and_weights_local(slurm_run):
    for rule in ("probe_video", "assemble_zarr", "render_segment", "join_videos"):
        jobs = _jobs_of(slurm_run, rule)
        assert jobs and all(j["JobState"] == "COMPLETED" for j in jobs), (rule, jobs)
        assert all(j["Partition"] == CPU_PARTITION and "gpu" not in _gres(j) for j in jobs)
    # download_weights is a localrule: it must never become a Slurm job.
    assert _jobs_of(slurm_run, "download_weights") == []
    assert "localrule download_weights" in slurm_run.log


def test_cancelled_chunk_is_retried(slurm_run):
    assert slurm_run.killed, slurm_run.kill_note
    jid, chunk = slurm_run.killed
    attempts = [j for j in _jobs_of(slurm_run, "predict_chunk") if _chunk_of(j["Comment"]) == chunk]
    states = {j["JobId"]: j["JobState"] for j in attempts}
    assert states.get(jid) == "CANCELLED", states
    assert any(int(j) > int(jid) and s == "COMPLETED" for j, s in states.items()), states


def test_slurm_maps_equal_local_run(slurm_run, local_run):
    assert slurm_run.returncode == 0
    remote = _log_density(slurm_run.workdir)
    assert remote.shape == local_run.shape == (FRAMES, HEIGHT, WIDTH)
    assert np.isfinite(remote).all()
    np.testing.assert_allclose(remote, local_run, rtol=0, atol=1e-5)
    for name in ("heatmap.mp4", "overlay.mp4"):
        assert (slurm_run.workdir / "results" / "clip" / name).stat().st_size > 0


def test_rerun_has_nothing_to_do(slurm_run):
    """Rerunning the same command after a complete run submits nothing."""
    assert slurm_run.returncode == 0
    profile = _load_make_profile().build_profile(slurm_run.workdir / "profile-rerun",
                                                 jobname_prefix=slurm_run.prefix)
    run = subprocess.run(command(slurm_run.workdir, "--profile", str(profile)),
                         check=False, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Nothing to be done" in run.stdout + run.stderr
    assert "has been submitted" not in run.stdout + run.stderr


def test_resume_after_losing_snakemake(resumed_run, local_run):
    workdir, second = resumed_run
    assert second.returncode == 0, f"resumed run failed:\n{second.stdout[-3000:]}\n{second.stderr[-6000:]}"
    remote = _log_density(workdir)
    assert np.isfinite(remote).all()
    np.testing.assert_allclose(remote, local_run, rtol=0, atol=1e-5)
