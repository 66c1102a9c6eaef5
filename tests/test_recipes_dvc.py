"""`dvc exp run $(abo-vqa recipe NAME)` end to end: a recipe runs as a DVC experiment.

In a scratch copy of the reproduced pipeline, the printed arguments go to `dvc exp run` as the
shell would hand them over, followed by the only swaps the recipe tests allow: the hub id (for
the scratch project's own tiny BLIP, a model of the recipe's class) and the run's sizes.
"""

from __future__ import annotations

import json
import sys

import pytest
from scratch_project import REPO, copy_project, dvc, ran_stages, reproduced_project, run

pytestmark = pytest.mark.slow

SWAPS = (
    "-S",
    "model.base=models/base/tiny-blip-vqa",
    "-S",
    "train.max_steps=4",
    "-S",
    "train.eval_steps=2",
    "-S",
    "train.batch_size=8",
)


def test_a_recipe_runs_as_a_dvc_experiment_with_every_value_applied(tmp_path_factory):
    reproduced = reproduced_project(tmp_path_factory.getbasetemp())
    root = copy_project(reproduced.root, tmp_path_factory.mktemp("recipe_exp") / "project")
    command = [sys.executable, "-m", "abo_vqa.cli", "recipe", "b-blip-nf4"]
    printed = run([*command, "--dir", str(REPO / "recipes")], root).output
    output = dvc("exp", "run", "-n", "recipe-b", *printed.split(), *SWAPS, cwd=root).output
    assert {"train_lora", "quantize", "final_eval"} <= set(ran_stages(output))

    shown = json.loads(dvc("exp", "show", "--json", cwd=root).output)
    (data,) = [
        rev["data"]
        for baseline in shown
        for experiment in baseline.get("experiments") or []
        for rev in experiment["revs"]
        if rev["name"] == "recipe-b"
    ]
    params = data["params"]["params.yaml"]["data"]
    assert params["lora"]["target_modules"] == ["query", "key", "value"]
    assert (params["lora"]["r"], params["lora"]["alpha"]) == (16, 32)
    assert (params["train"]["warmup_steps"], params["train"]["warmup_ratio"]) == (100, 0.1)
    assert params["train"]["learning_rate"] == 5e-5
    assert params["quantize"] == {**params["quantize"], "method": "nf4", "double_quant": True}
    assert params["quantize"]["compute_dtype"] == "bfloat16"
    metrics = {path: m["data"] for path, m in data["metrics"].items()}
    assert metrics["metrics/train_lora.json"]["steps"] == 4
    assert metrics["metrics/quantize.json"]["method"] == "nf4"
    assert "exact_match" in json.dumps(metrics["metrics/final_eval.json"])
