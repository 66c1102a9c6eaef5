"""The pipeline run through DVC itself, on a small generated sample, in a scratch repository.

Guards the contract users rely on: `dvc repro` runs every stage, a second `dvc repro` is a no-op,
changing a param reruns only the stages that read it (and what follows), and outputs are
deterministic.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from abo_vqa.sample import generate_sample

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(cmd: list[str], cwd: Path) -> str:
    env = dict(os.environ)
    # Stage commands call `python`: make it the interpreter running the tests.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def dvc(*args: str, cwd: Path) -> str:
    return run([str(Path(sys.executable).parent / "dvc"), *args], cwd)


def ran_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A scratch DVC repo with the project's pipeline, a 96-listing sample and quick params."""
    root = tmp_path_factory.mktemp("project")
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, root / name)
    for folder in ("stages", "src/abo_vqa", "models/base"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    generate_sample(root / "data/abo_sample", seed=3, n_listings=96)

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"].update(max_steps=6, eval_steps=3, batch_size=8)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    run(["git", "init", "-q"], root)
    dvc("init", "-q", cwd=root)
    dvc("config", "core.analytics", "false", cwd=root)
    return root


def test_repro_runs_every_stage_in_order(project):
    output = dvc("repro", cwd=project)
    assert ran_stages(output) == [
        "filter_metadata",
        "generate_qa",
        "split",
        "baseline_eval",
        "train_lora",
        "quantize",
        "final_eval",
    ]
    for path in (
        "metrics/filter_metadata.json",
        "metrics/generate_qa.json",
        "metrics/split.json",
        "metrics/baseline_eval.json",
        "metrics/train_lora.json",
        "metrics/quantize.json",
        "metrics/final_eval.json",
        "reports/comparison.md",
        "models/adapter",
        "models/quantized",
    ):
        assert (project / path).exists(), path


def test_a_second_repro_is_a_no_op(project):
    output = dvc("repro", cwd=project)
    assert ran_stages(output) == []
    assert "Data and pipelines are up to date" in dvc("status", cwd=project)


def test_changing_the_split_seed_reruns_only_split_and_what_follows(project):
    before = digest(project / "data/filtered") | digest(project / "data/qa")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["split"]["seed"] += 1
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    output = dvc("repro", cwd=project)
    assert ran_stages(output) == ["split", "baseline_eval", "train_lora", "quantize", "final_eval"]
    assert digest(project / "data/filtered") | digest(project / "data/qa") == before


def test_forced_rerun_of_the_data_stages_gives_byte_identical_outputs(project):
    before = digest(project / "data")
    dvc("repro", "--force", "--single-item", "filter_metadata", cwd=project)
    dvc("repro", "--force", "--single-item", "generate_qa", cwd=project)
    dvc("repro", "--force", "--single-item", "split", cwd=project)
    after = digest(project / "data")
    assert {k: v for k, v in after.items() if not k.startswith("eval")} == {
        k: v for k, v in before.items() if not k.startswith("eval")
    }
