"""The pipeline run through DVC itself, on a small generated sample, in a scratch repository.

Guards the contract users rely on: `dvc repro` runs every stage, a second `dvc repro` is a no-op,
changing a param reruns only the stages that read it (and what follows), and outputs are
deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from scratch_project import (
    STAGES,
    copy_project,
    digest,
    dvc,
    ran_stages,
    reproduced_project,
    update_params,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_repro(tmp_path_factory) -> str:
    """What the session's first `dvc repro` of a fresh scratch project printed."""
    return reproduced_project(tmp_path_factory.getbasetemp()).repro_output


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A private copy of the reproduced scratch project (this module changes its params)."""
    reproduced = reproduced_project(tmp_path_factory.getbasetemp())
    return copy_project(reproduced.root, tmp_path_factory.mktemp("pipeline") / "project")


def test_repro_runs_every_stage_in_order(first_repro, project):
    assert ran_stages(first_repro) == list(STAGES)
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


def test_final_eval_tests_each_pair_of_models_and_the_blank_image_run(project):
    final_eval = json.loads((project / "metrics/final_eval.json").read_text())
    assert list(final_eval["paired"]) == [
        "finetuned_vs_base",
        "finetuned_vs_prior",
        "finetuned_vs_question_only",
        "quantized_vs_finetuned",
    ]
    for entry in final_eval["paired"].values():
        assert entry["ci_low"] <= entry["delta"] <= entry["ci_high"]
        assert entry["n"] == final_eval["finetuned"]["n"]
        assert entry["by_type"].keys() == final_eval["finetuned"]["by_type"].keys()
    vision = final_eval["vision_dependence"]
    assert (vision["a"], vision["b"]) == ("finetuned", "finetuned_blank")
    assert vision["b_exact_match"] == final_eval["finetuned_blank"]["exact_match"]["mean"]
    blank = (project / "data/eval/final/finetuned_blank.csv").read_text().splitlines()
    assert len(blank) == final_eval["finetuned"]["n"] + 1
    report = (project / "reports/comparison.md").read_text()
    assert "## Paired comparisons" in report and "look at the image?" in report


def test_a_second_repro_is_a_no_op(project):
    output = dvc("repro", cwd=project).output
    assert ran_stages(output) == []
    assert "Data and pipelines are up to date" in dvc("status", cwd=project).output


def test_changing_the_split_seed_reruns_only_split_and_what_follows(project):
    before = digest(project / "data/filtered") | digest(project / "data/qa")
    seed = yaml.safe_load((project / "params.yaml").read_text())["split"]["seed"]
    update_params(project, {"split": {"seed": seed + 1}})
    output = dvc("repro", cwd=project).output
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
