"""Training throughput of train_lora on one process against two data-parallel CPU processes.

    .venv/bin/python bench/bench_ddp.py [--rounds 3] [--steps 24] [--batch-size 8] [--work DIR]

A correctness check of the multi-process path, not a speed claim: on a machine with two cores
shared with other jobs, two processes cannot be expected to double anything. It builds a scratch
project (tests/scratch_project.py: the embedded sample, the shipped base), runs `dvc repro split`
once, then runs the train_lora stage's own command as dvc.yaml has it, with `train.launcher` set
to `python` (one process) and to `accelerate launch --config_file configs/accelerate/ddp.yaml
--num_processes 2` (two processes over gloo; no GPU visible). Each run trains `--steps` steps of
`--batch-size` examples per process, with one evaluation, at the end. The two launchers take
turns within each round (the first one alternating), so that load from other jobs hits both
alike.

Throughput is the examples trained per second of the Trainer's training loop (steps × batch ×
processes / `train_runtime_s` from metrics/train_lora.json): process start-up and model loading
are left out, as they are the same work on every process. Prints both medians over the rounds
and the median of the per-round ratios, with the free cores before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from scratch_project import (  # noqa: E402
    QUICK_PARAMS,
    build_scratch_project,
    dvc,
    merge,
    run,
    update_params,
)

LAUNCHERS = {
    1: "python",
    2: "accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 2",
}


def free_cores() -> float:
    """Cores not busy over the last minute (by the load average)."""
    return os.cpu_count() - os.getloadavg()[0]


def train_once(root: Path, processes: int, steps: int, batch_size: int) -> float:
    """Examples per second of one train_lora run of the stage's own command."""
    update_params(root, {"train": {"launcher": LAUNCHERS[processes]}})
    cmd = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["train_lora"]["cmd"]
    command = cmd.replace("${train.launcher}", LAUNCHERS[processes]).split()
    run(command, root, env={"CUDA_VISIBLE_DEVICES": ""})
    metrics = json.loads((root / "metrics/train_lora.json").read_text())
    assert metrics["steps"] == steps, metrics
    return steps * batch_size * processes / metrics["train_runtime_s"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--work", type=Path, default=None, help="folder for the scratch project")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_ddp-"))
    train = {
        "max_steps": args.steps,
        "eval_steps": args.steps,
        "batch_size": args.batch_size,
        "resume": False,
    }
    root = build_scratch_project(work / "project", overrides=merge(QUICK_PARAMS, {"train": train}))
    dvc("repro", "split", cwd=root)
    print(f"scratch project {root}; {args.steps} steps of {args.batch_size} per process")
    print(f"free cores before: {free_cores():.2f} of {os.cpu_count()}")

    rates: dict[int, list[float]] = {1: [], 2: []}
    train_once(root, 1, args.steps, args.batch_size)  # warm-up: page cache, bytecode
    for round_index in range(args.rounds):
        order = (1, 2) if round_index % 2 == 0 else (2, 1)
        for processes in order:
            rates[processes].append(train_once(root, processes, args.steps, args.batch_size))
        print(
            f"round {round_index + 1}: 1 process {rates[1][-1]:.1f}/s, "
            f"2 processes {rates[2][-1]:.1f}/s"
        )
    ratios = [two / one for one, two in zip(rates[1], rates[2], strict=True)]
    print(f"free cores after: {free_cores():.2f} of {os.cpu_count()}")
    print(f"1 process:   {statistics.median(rates[1]):.1f} examples/s (median of {args.rounds})")
    print(f"2 processes: {statistics.median(rates[2]):.1f} examples/s (median of {args.rounds})")
    print(f"2 / 1: ×{statistics.median(ratios):.2f} (median of per-round ratios)")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    main()
