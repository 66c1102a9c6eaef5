"""Training throughput of the train_lora stage under the settings that trade speed for identical
results: torch threads, the instruction-set cap, processes.

    nice -n 10 .venv/bin/python bench/bench_train.py [--configs reference all-threads native-isa]
        [--rounds 3] [--steps 30] [--batch-size 32] [--work DIR]

Configurations (the stage's own command, as dvc.yaml has it, in a scratch project on the embedded
sample with the shipped base):
- `reference`: what `dvc repro` runs: `model.cpu_threads: 1`, instruction set capped at AVX2;
- `all-threads`: `model.cpu_threads` = every core of this machine (results then differ from the
  reference's, reproducibly for that thread count);
- `native-isa`: `ABO_VQA_CPU_ISA=native`, the CPU's widest vector instructions (AVX-512 where there
  are any; on an AVX2-only CPU the same kernels as the reference);
- `2-processes`: `train.launcher` = `accelerate launch ... ddp.yaml --num_processes 2`, one thread
  each (a correctness check of the multi-process path more than a speed claim on 2 cores).

Each run trains `--steps` steps of `--batch-size` examples per process, with one evaluation, at
the end. The configurations take turns within each round (the first one rotating), so that load
from other jobs hits all alike. Throughput is the examples trained per second of the Trainer's
loop (the stage logs its training time; process start-up and model loading are left out). Prints
each configuration's median and the median of its per-round ratios to the reference.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from bench_paths import REPO
from scratch_project import (
    QUICK_PARAMS,
    build_scratch_project,
    dvc,
    merge,
    run,
    update_params,
)

DDP = "accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 2"
TRAINED = re.compile(r"trained (\d+) steps in ([\d.]+) s")


@dataclass(frozen=True)
class Config:
    params: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    processes: int = 1


def configs(cores: int) -> dict[str, Config]:
    threads = {"OMP_NUM_THREADS": str(cores), "MKL_NUM_THREADS": str(cores)}
    return {
        "reference": Config(),
        "all-threads": Config(params={"model": {"cpu_threads": cores}}, env=threads),
        "native-isa": Config(env={"ABO_VQA_CPU_ISA": "native"}),
        "2-processes": Config(params={"train": {"launcher": DDP}}, processes=2),
    }


def free_cores() -> float:
    """Cores not busy over the last minute (by the load average)."""
    return os.cpu_count() - os.getloadavg()[0]


def train_once(root: Path, config: Config, steps: int, batch_size: int) -> float:
    """Examples per second of one run of the train_lora stage's command under `config`."""
    update_params(
        root, merge({"model": {"cpu_threads": 1}, "train": {"launcher": "python"}}, config.params)
    )
    params = yaml.safe_load((root / "params.yaml").read_text())
    cmd = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["train_lora"]["cmd"]
    command = cmd.replace("${train.launcher}", params["train"]["launcher"]).split()
    output = run(command, root, env={"CUDA_VISIBLE_DEVICES": "", **config.env}).output
    trained = [(int(s), float(t)) for s, t in TRAINED.findall(output)]
    assert len(trained) == config.processes and all(s == steps for s, _ in trained), output[-2000:]
    return steps * batch_size * config.processes / max(t for _, t in trained)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["reference", "all-threads", "native-isa"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--work", type=Path, default=None, help="folder for the scratch project")
    args = parser.parse_args(argv)

    known = configs(os.cpu_count() or 1)
    names = ["reference", *(n for n in args.configs if n != "reference")]
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown configs {unknown}; known: {list(known)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_train-"))
    train = {"max_steps": args.steps, "eval_steps": args.steps, "batch_size": args.batch_size}
    overrides = merge(QUICK_PARAMS, {"train": {**train, "resume": False}})
    root = build_scratch_project(work / "project", overrides=overrides)
    dvc("repro", "split", cwd=root)
    print(f"scratch project {root}; {args.steps} steps of {args.batch_size} per process")
    print(f"free cores before: {free_cores():.2f} of {os.cpu_count()}")

    rates: dict[str, list[float]] = {name: [] for name in names}
    train_once(root, known["reference"], args.steps, args.batch_size)  # warm-up: page cache
    for round_index in range(args.rounds):
        first = round_index % len(names)
        for name in names[first:] + names[:first]:
            rates[name].append(train_once(root, known[name], args.steps, args.batch_size))
        print(f"round {round_index + 1}: " + ", ".join(f"{n} {rates[n][-1]:.1f}/s" for n in names))
    print(f"free cores after: {free_cores():.2f} of {os.cpu_count()}")
    for name in names:
        ratios = [r / ref for r, ref in zip(rates[name], rates["reference"], strict=True)]
        print(
            f"{name:12s} {statistics.median(rates[name]):7.1f} examples/s (median of "
            f"{args.rounds}), ×{statistics.median(ratios):.2f} of reference "
            "(median per-round ratio)"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    main()
