"""DVC experiments on the pipeline, as users run them: `dvc exp run -S`, queued sweeps,
`dvc exp show`, `dvc metrics diff`, `dvc plots diff` and `dvc exp push`.

Guards: a misspelt `-S` key fails the run and names the key; a LoRA param reruns only the stages
that read it; runs compare meaningfully; experiments' artifacts reach remote storage only through
`dvc exp push`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from scratch_project import (
    copy_project,
    dvc,
    git,
    in_storage,
    lock_hash,
    ran_stages,
    reproduced_project,
    restore_workspace,
    run,
)

from abo_vqa.params import LoraParams

pytestmark = pytest.mark.slow

LORA_STAGES = ["train_lora", "quantize", "final_eval"]
"""The stages downstream of the `lora` params section."""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    reproduced = reproduced_project(tmp_path_factory.getbasetemp())
    root = copy_project(reproduced.root, tmp_path_factory.mktemp("experiments") / "project")
    yield root
    dvc("queue", "stop", cwd=root, check=False)  # no worker may outlive the test


def experiments(root: Path) -> dict[str, dict[str, Any]]:
    """Every experiment `dvc exp show` knows, by name: its rev, params.yaml, metrics by file."""
    found = {}
    for baseline in json.loads(dvc("exp", "show", "--json", cwd=root).output):
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                data = rev["data"]
                found[rev["name"]] = {
                    "rev": rev["rev"],
                    "params": data["params"]["params.yaml"]["data"],
                    "metrics": {path: m["data"] for path, m in data["metrics"].items()},
                }
    return found


def by_lora_rank(root: Path) -> dict[int, str]:
    """Experiment names keyed by their lora.r (the last one wins if a rank repeats)."""
    return {exp["params"]["lora"]["r"]: name for name, exp in experiments(root).items()}


def test_a_misspelt_key_is_refused_before_anything_runs(project):
    before = (project / "params.yaml").read_bytes()
    result = dvc("exp", "run", "-S", "lora.rr=64", cwd=project, check=False)
    assert result.returncode != 0
    assert "lora.rr" in result.output
    assert ran_stages(result.output) == []
    assert (project / "params.yaml").read_bytes() == before


def test_an_appended_unknown_key_fails_the_run_naming_it_and_the_allowed_keys(project):
    # `+key=value` makes DVC add the key; the stage's params validation must stop the run.
    result = dvc("exp", "run", "-S", "+lora.rr=64", cwd=project, check=False)
    assert result.returncode != 0
    assert ran_stages(result.output) == ["train_lora"]
    allowed = ", ".join(sorted(field.name for field in dataclasses.fields(LoraParams)))
    assert f"lora: unknown key(s) 'rr'; allowed keys are: {allowed}" in result.output
    assert experiments(project) == {}
    restore_workspace(project)


def test_a_lora_param_reruns_only_train_lora_quantize_and_final_eval(project):
    output = dvc("exp", "run", "-S", "lora.r=64", cwd=project).output
    assert ran_stages(output) == LORA_STAGES
    assert list(by_lora_rank(project)) == [64]


def test_metrics_diff_shows_what_the_rank_changed(project):
    diff = json.loads(dvc("metrics", "diff", "--json", cwd=project).output)
    trainable = diff["metrics/train_lora.json"]["trainable_parameters"]
    assert trainable["new"] > trainable["old"]
    assert diff["metrics/final_eval.json"], "final_eval's metrics did not change at all"
    # Upstream stages did not run: their metrics are not in the diff.
    assert not {"metrics/split.json", "metrics/baseline_eval.json"} & diff.keys()
    params = json.loads(dvc("params", "diff", "--json", cwd=project).output)
    assert params["params.yaml"].keys() == {"lora.r"}
    change = params["params.yaml"]["lora.r"]
    assert (change["old"], change["new"]) == (16, 64)


def test_exp_show_and_plots_diff_compare_the_runs(project):
    experiment = experiments(project)[by_lora_rank(project)[64]]
    workspace = json.loads((project / "metrics/train_lora.json").read_text())
    shown = experiment["metrics"]["metrics/train_lora.json"]
    assert shown["trainable_parameters"] == workspace["trainable_parameters"]

    plots = json.loads(dvc("plots", "diff", "--json", cwd=project).output)["data"]
    (eval_loss,) = [p for name, p in plots.items() if name.endswith("eval/loss.tsv")]
    points = eval_loss[0]["content"]["data"]["values"]
    assert {point["rev"] for point in points} == {"workspace", "HEAD"}


def paired_rows(output: str) -> list[list[str]]:
    """The figure cells of every row of `abo-vqa compare`'s tables (names and headings left
    out)."""
    lines = output.splitlines()
    rows = [line for line in lines if line.startswith("| ") and "difference (points)" not in line]
    return [row.split(" | ")[-7:] for row in rows]


def test_compare_tests_the_experiment_against_the_committed_run(project):
    """`abo-vqa compare HEAD <exp>` reads both runs' predictions through dvc.api; with no
    argument it compares HEAD with the workspace, which holds the experiment's outputs."""
    name = by_lora_rank(project)[64]
    compare = [sys.executable, "-m", "abo_vqa.cli", "compare"]
    by_name = run([*compare, "HEAD", name], project).output
    assert f"## {name} against HEAD" in by_name
    assert f"| finetuned@{name} | finetuned@HEAD |" in by_name
    assert f"### finetuned@{name} against finetuned@HEAD, per question type" in by_name
    in_workspace = run(compare, project).output
    assert "| finetuned@workspace | finetuned@HEAD |" in in_workspace
    assert paired_rows(in_workspace) == paired_rows(by_name)


def test_a_queued_sweep_runs_one_experiment_per_value(project):
    restore_workspace(project)
    dvc("exp", "run", "--queue", "-S", "lora.r=8,16", cwd=project)
    output = dvc("exp", "run", "--run-all", cwd=project).output
    # r=16 is the committed value: that experiment reuses every cached output.
    assert ran_stages(output) == LORA_STAGES
    ranks = by_lora_rank(project)
    assert {8, 16} <= ranks.keys()
    found = experiments(project)
    trainable = {
        r: found[ranks[r]]["metrics"]["metrics/train_lora.json"]["trainable_parameters"]
        for r in (8, 16, 64)
    }
    assert trainable[8] < trainable[16] < trainable[64]


def test_a_remote_in_an_uncommitted_config_is_invisible_to_exp_push(project, tmp_path):
    """DVC reads each revision's own .dvc/config when it pushes revisions: a default remote
    added after the baseline commit (and not committed) is not seen, and nothing is uploaded."""
    storage, origin = tmp_path / "storage", tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    dvc("remote", "add", "-d", "uncommitted", str(storage), cwd=project)
    name = by_lora_rank(project)[8]
    dvc("exp", "push", str(origin), name, cwd=project)
    adapter = lock_hash(
        project, "train_lora", "models/adapter", rev=experiments(project)[name]["rev"]
    )
    assert name in git("ls-remote", str(origin), cwd=project).output  # the push itself worked
    assert not in_storage(storage, adapter)
    git("checkout", "-q", "--", ".dvc/config", cwd=project)


def test_exp_push_uploads_experiments_artifacts_that_push_all_commits_leaves_behind(
    project, tmp_path
):
    storage, origin = tmp_path / "storage", tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    # --local: outside git, so every revision (each experiment included) sees this remote.
    dvc("remote", "add", "--local", "-d", "storage", str(storage), cwd=project)
    name = by_lora_rank(project)[8]
    adapter = lock_hash(
        project, "train_lora", "models/adapter", rev=experiments(project)[name]["rev"]
    )

    dvc("push", "--all-commits", cwd=project)
    assert in_storage(storage, lock_hash(project, "train_lora", "models/adapter"))
    assert not in_storage(storage, adapter)

    dvc("exp", "push", str(origin), name, cwd=project)
    assert in_storage(storage, adapter)
    assert name in git("ls-remote", str(origin), cwd=project).output
