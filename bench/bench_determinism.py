"""Do differently configured machines compute the same numbers? Training, quantization and
evaluation of one scratch project, rerun under other CPU configurations and compared.

    nice -n 10 .venv/bin/python bench/bench_determinism.py /tmp/abo-determinism [--max-steps 6]
        [--configs 2-threads avx2 aten-avx2 onednn-avx2 mkl-avx2]

Builds a scratch project (tests/scratch_project.py: the sample data, the shipped base, quick
params with `--max-steps` training steps) and reproduces it with the reference configuration (one
thread, the CPU's own instruction set). Then, for each other configuration, a copy of it reruns
baseline_eval, train_lora, quantize and final_eval (forced) and every figure is compared with the
reference's: file hashes of the adapter, the merged and the quantized model and the predictions;
each number in the metrics files (time and memory left out, they are measured); the largest
difference of any adapter weight.

Configurations (environment of the stage processes):
- `2-threads`: OMP_NUM_THREADS=2 (torch's intra-op threads; a machine with more cores);
- `avx2`: torch's own kernels, oneDNN and MKL limited to AVX2 (ATEN_CPU_CAPABILITY,
  ONEDNN_MAX_CPU_ISA, MKL_ENABLE_INSTRUCTIONS), as on a CPU without AVX-512.
"""

from __future__ import annotations

import argparse
import json
from fnmatch import fnmatch
from pathlib import Path

import bench_paths  # noqa: F401  (puts tests/ on the import path)
from scratch_project import (
    QUICK_PARAMS,
    build_scratch_project,
    copy_project,
    dvc,
    merge,
    outputs_digest,
)

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
CONFIGS: dict[str, dict[str, str]] = {
    "reference": ONE_THREAD,
    "2-threads": {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"},
    "avx2": {
        **ONE_THREAD,
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
    # One library at a time, to find which one's kernels make the difference.
    "aten-avx2": {**ONE_THREAD, "ATEN_CPU_CAPABILITY": "avx2"},
    "onednn-avx2": {**ONE_THREAD, "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "mkl-avx2": {**ONE_THREAD, "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}
RERUN = ("baseline_eval", "train_lora", "quantize", "final_eval")
FILES = ("models/adapter", "models/merged", "models/quantized", "data/eval")
METRICS = ("baseline_eval", "train_lora", "quantize", "final_eval")
MEASURED = ("*runtime*", "*latency*", "*memory*", "*_per_second", "*samples_per*", "*steps_per*")
"""Metrics measured on the running machine (time, memory): not expected to agree."""


def numbers(tree: object, prefix: str = "") -> dict[str, float]:
    """Every number in a JSON tree by dotted path, except the measured ones."""
    found: dict[str, float] = {}
    items = (
        tree.items()
        if isinstance(tree, dict)
        else enumerate(tree)
        if isinstance(tree, list)
        else ()
    )
    for key, value in items:
        path = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            if not any(fnmatch(path, pattern) for pattern in MEASURED):
                found[path] = float(value)
        else:
            found |= numbers(value, f"{path}.")
    return found


def figures(root: Path) -> dict[str, float]:
    result = {}
    for stage in METRICS:
        path = root / "metrics" / f"{stage}.json"
        result |= {f"{stage}:{k}": v for k, v in numbers(json.loads(path.read_text())).items()}
    return result


def largest_weight_difference(first: Path, second: Path) -> float:
    from safetensors.torch import load_file

    name = "models/adapter/adapter_model.safetensors"
    a, b = load_file(first / name), load_file(second / name)
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def compare(reference: Path, other: Path) -> None:
    files_ref, files_other = outputs_digest(reference, FILES), outputs_digest(other, FILES)
    same = sorted(f for f in files_ref if files_other.get(f) == files_ref[f])
    differ = sorted(f for f in files_ref if files_other.get(f) != files_ref[f])
    print(f"  files identical: {len(same)} of {len(files_ref)}")
    for file in differ:
        print(f"    differs: {file}")
    print(f"  largest adapter weight difference: {largest_weight_difference(reference, other):.3g}")
    ref, oth = figures(reference), figures(other)
    unequal = {k: (ref[k], oth.get(k)) for k in ref if oth.get(k) != ref[k]}
    print(f"  metric numbers identical: {len(ref) - len(unequal)} of {len(ref)}")
    for key, (a, b) in sorted(unequal.items()):
        drift = abs(a - b) if b is not None else float("nan")
        print(f"    {key}: {a!r} vs {b!r} (|diff| {drift:.3g})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path, help="folder to create (must not exist)")
    parser.add_argument("--configs", nargs="*", default=["2-threads", "avx2"], choices=CONFIGS)
    parser.add_argument(
        "--max-steps", type=int, default=QUICK_PARAMS["train"]["max_steps"], help="training steps"
    )
    args = parser.parse_args()
    overrides = merge(QUICK_PARAMS, {"train": {"max_steps": args.max_steps}})
    reference = build_scratch_project(args.workdir.resolve() / "reference", overrides=overrides)
    dvc("repro", cwd=reference, env=CONFIGS["reference"])
    for name in args.configs:
        other = copy_project(reference, args.workdir.resolve() / name)
        dvc("repro", "--force", "--single-item", *RERUN, cwd=other, env=CONFIGS[name])
        print(
            f"{name} against reference ({' '.join(f'{k}={v}' for k, v in CONFIGS[name].items())}):"
        )
        compare(reference, other)


if __name__ == "__main__":
    main()
