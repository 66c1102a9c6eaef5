"""train_lora on two processes, as the `train.launcher` param runs it: data-parallel over gloo
on the CPU, killed with SIGKILL (the whole process tree) and resumed.

The launcher is the project's DDP config with only the process count overridden on the command
line. `accelerate launch --cpu` is not used: for several CPU processes it needs MPI's `mpirun`,
and without one it starts a single process. With no GPU visible (CUDA_VISIBLE_DEVICES="") the
config's torchrun launch gives each process the CPU and the gloo backend.

Which process wrote what is recorded by tests/write_audit (a sitecustomize that logs every
Python-level write of every process with its rank).
"""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from scratch_project import QUICK_PARAMS, build_scratch_project, command_env, digest, dvc

from abo_vqa.recipes import merge

pytestmark = pytest.mark.slow

LAUNCHER = "accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 2"
TRAIN: Mapping[str, Any] = {
    "max_steps": 8,
    "eval_steps": 2,
    "batch_size": 4,
    "launcher": LAUNCHER,
}
"""A checkpoint every 2 of 8 steps, 2 × 4 examples a step."""
KILL_AFTER_STEP = 4
RESUMING = "resuming the interrupted run from"
AUDIT = Path(__file__).resolve().parent / "write_audit"
OUTPUTS = ("models/adapter", "metrics/train_lora.json", "dvclive/train_lora", "models/checkpoints")
"""What train_lora writes (dvc.yaml's outs, metrics and plots, and its checkpoints)."""
CURVES = ("train/loss", "train/learning_rate", "eval/loss")
RUN_TIMEOUT_S = 600


@dataclass(frozen=True)
class Run:
    returncode: int
    log: str
    writes: list[tuple[str, str, str]]
    """(rank, event, absolute path) of every write-like event of every process."""


def stage_command(root: Path) -> list[str]:
    """train_lora's command exactly as DVC runs it: dvc.yaml's cmd, with ${train.launcher}
    taken from params.yaml."""
    cmd = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["train_lora"]["cmd"]
    launcher = yaml.safe_load((root / "params.yaml").read_text())["train"]["launcher"]
    return shlex.split(cmd.replace("${train.launcher}", launcher))


def start(root: Path, audit_dir: Path) -> subprocess.Popen:
    """The stage in its own session (process group), so that the whole tree can be killed."""
    audit_dir.mkdir(parents=True)
    env = command_env(
        {
            "PYTHONPATH": f"{AUDIT}{os.pathsep}src",
            "WRITE_AUDIT_DIR": str(audit_dir),
            "CUDA_VISIBLE_DEVICES": "",
        }
    )
    log = (audit_dir.parent / f"{audit_dir.name}.log").open("w")
    return subprocess.Popen(
        stage_command(root),
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def collect(process: subprocess.Popen, audit_dir: Path) -> Run:
    try:
        returncode = process.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        kill_tree(process)
        raise
    writes = [
        tuple(line.split("\t", 2))
        for path in sorted(audit_dir.glob("*.tsv"))
        for line in path.read_text().splitlines()
    ]
    log = (audit_dir.parent / f"{audit_dir.name}.log").read_text()
    return Run(returncode, log, writes)


def finished_checkpoints(folder: Path) -> list[int]:
    return sorted(
        int(path.name.rsplit("-", 1)[1])
        for path in folder.glob("checkpoint-*")
        if (path / "trainer_state.json").is_file()
    )


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the launcher and all its descendants at once. Killing its process group is not
    enough: torchrun starts each worker in a session of its own."""
    import psutil

    descendants = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGKILL)
    for member in descendants:
        member.send_signal(signal.SIGKILL)
    process.wait()  # the launcher is our child: reaped here, with its exit status
    psutil.wait_procs(descendants, timeout=60)


def kill_tree_after_checkpoint(process: subprocess.Popen, checkpoints: Path) -> None:
    """Kill the whole tree once a checkpoint of KILL_AFTER_STEP is written."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        if any(step >= KILL_AFTER_STEP for step in finished_checkpoints(checkpoints)):
            kill_tree(process)
            return
        time.sleep(0.02)
    kill_tree(process)
    pytest.fail("the run ended before it could be interrupted: give it more steps")


def curve(root: Path, name: str) -> list[tuple[int, float]]:
    lines = (root / "dvclive/train_lora/plots/metrics" / f"{name}.tsv").read_text().splitlines()
    return [(int(step), float(value)) for step, value in (ln.split("\t") for ln in lines[1:])]


def metrics(root: Path) -> dict[str, Any]:
    return json.loads((root / "metrics/train_lora.json").read_text())


@dataclass(frozen=True)
class Runs:
    reference_root: Path
    reference: Run
    """Uninterrupted."""
    root: Path
    killed: Run
    leftover_steps: list[int]
    resumed: Run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    work = tmp_path_factory.mktemp("multiprocess")
    reference_root = build_scratch_project(
        work / "reference", overrides=merge(QUICK_PARAMS, {"train": TRAIN})
    )
    dvc("repro", "split", cwd=reference_root)  # the stage's inputs
    root = work / "interrupted"
    subprocess.run(["cp", "-a", str(reference_root), str(root)], check=True)

    reference = collect(start(reference_root, work / "audit-reference"), work / "audit-reference")
    process = start(root, work / "audit-killed")
    kill_tree_after_checkpoint(process, root / "models/checkpoints")
    killed = collect(process, work / "audit-killed")
    leftover_steps = finished_checkpoints(root / "models/checkpoints")
    resumed = collect(start(root, work / "audit-resumed"), work / "audit-resumed")
    return Runs(reference_root, reference, root, killed, leftover_steps, resumed)


def _finished(run: Run) -> None:
    assert run.returncode == 0, run.log


def test_both_processes_train_over_gloo(runs):
    for run in (runs.reference, runs.resumed):
        _finished(run)
        for rank in (0, 1):
            assert f"process {rank} of 2 (distributed backend: gloo) trained 8 steps" in run.log
    # Two processes share each step: 8 steps of 2 × 4 examples.
    reference = metrics(runs.reference_root)
    assert reference["steps"] == 8
    steps_per_epoch = math.ceil(reference["train_examples"] / (2 * 4))
    assert reference["epochs"] == pytest.approx(8 / steps_per_epoch, abs=1e-3)


def own_checkpoint_part(rank: str, event: str, path: str) -> bool:
    """What every process writes into a checkpoint: the Trainer has each one create the
    checkpoint's folder (it exists already, or the main process creates it) and save its own
    random-number-generator state, which an exact resume needs."""
    name = Path(path).name
    if "/models/checkpoints/checkpoint-" not in path:
        return False
    return (event == "os.mkdir" and name.startswith("checkpoint-")) or (
        name == f"rng_state_{rank}.pth"
    )


def test_only_the_main_process_writes_the_outputs(runs):
    for run, root in ((runs.reference, runs.reference_root), (runs.resumed, runs.root)):
        _finished(run)
        outputs = tuple(str(root / out) for out in OUTPUTS)
        by_rank: dict[str, set[str]] = {}
        for rank, event, path in run.writes:
            if path.startswith(outputs) and not own_checkpoint_part(rank, event, path):
                by_rank.setdefault(rank, set()).add(path)
        assert set(by_rank) == {"0"}, {rank: sorted(paths)[:5] for rank, paths in by_rank.items()}
        written = by_rank["0"]
        assert str(root / "metrics/train_lora.json") in written
        assert str(root / "models/adapter/adapter_config.json") in written
        assert str(root / "dvclive/train_lora/plots/metrics/eval/loss.tsv") in written


def test_the_adapter_loads_and_answers(runs):
    from abo_vqa.evaluate import load_images
    from abo_vqa.io import read_csv
    from abo_vqa.models import load_vqa_model
    from abo_vqa.models.lora import attach_adapter

    _finished(runs.reference)
    root = runs.reference_root
    params = yaml.safe_load((root / "params.yaml").read_text())
    rows = read_csv(root / "data/split/val.csv")[:4]
    loaded = load_images(rows, root / params["data"]["abo_root"] / "images" / "small")
    images = [loaded[row["image_id"]] for row in rows]
    vqa = attach_adapter(
        load_vqa_model(str(root / params["model"]["base"]), family=params["model"]["family"]),
        root / "models/adapter",
    )
    answers = vqa.predict(images, [row["question"] for row in rows])
    assert len(answers) == len(rows) and all(answer.strip() for answer in answers)


def test_a_killed_tree_resumes_and_ends_as_the_uninterrupted_run(runs):
    assert runs.killed.returncode != 0
    assert runs.leftover_steps and KILL_AFTER_STEP <= runs.leftover_steps[-1] < 8
    _finished(runs.resumed)
    resumes = [line for line in runs.resumed.log.splitlines() if RESUMING in line]
    assert len(resumes) == 1
    assert resumes[0].endswith(f"checkpoint-{runs.leftover_steps[-1]}")
    assert metrics(runs.root) == metrics(runs.reference_root)
    assert digest(runs.root / "models/adapter") == digest(runs.reference_root / "models/adapter")
    for name in CURVES:
        assert curve(runs.root, name) == curve(runs.reference_root, name), name
    assert not (runs.root / "models/checkpoints").exists()
