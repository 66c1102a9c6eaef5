"""Same inputs, same bytes: two full runs of the pipeline agree, and DVC's run-cache never
stands in for the QA stage.

The first run is the session's reproduced scratch project; the second is a forced `dvc repro` of
a copy of it in another directory, so a leaked absolute path or timestamp shows up as a
difference as well as in the grep below. Everything runs on the CPU.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file
from scratch_project import (
    QUICK_PARAMS,
    Output,
    copy_project,
    dvc,
    outputs_digest,
    pipeline_outputs,
    ran_stages,
    reproduced_project,
)

pytestmark = pytest.mark.slow

ISO_DATE = re.compile(rb"\b20\d\d-[01]\d-[0-3]\d([T ][0-2]\d:[0-5]\d)?")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """(first run, second run) of the whole pipeline, in two directories."""
    first = reproduced_project(tmp_path_factory.getbasetemp()).root
    second = copy_project(first, tmp_path_factory.mktemp("determinism") / "project")
    output = dvc("repro", "--force", cwd=second).output
    # A finished run leaves no checkpoints behind, so nothing here can resume the first run.
    assert "resuming" not in output
    return first, second


@pytest.fixture(scope="module")
def outputs(runs) -> tuple[Output, ...]:
    return pipeline_outputs(runs[0])


def paths(outputs: tuple[Output, ...], under: str = "", metrics: bool = False) -> list[str]:
    """Outputs under folder `under` (all if empty) that are metrics (or are not)."""
    return [o.path for o in outputs if o.path.startswith(under) and o.metric == metrics]


def test_data_outputs_are_byte_identical(runs, outputs):
    first, second = runs
    data = paths(outputs, "data/")
    expected = outputs_digest(first, data)
    assert {"data/split/test.csv", "data/eval/final/finetuned.csv"} <= expected.keys()
    assert outputs_digest(second, data) == expected


def test_adapter_tensors_are_exactly_equal(runs):
    tensors = [load_file(root / "models/adapter/adapter_model.safetensors") for root in runs]
    assert tensors[0], "the adapter holds no tensors"
    assert tensors[0].keys() == tensors[1].keys()
    unequal = [name for name in tensors[0] if not tensors[0][name].equal(tensors[1][name])]
    assert unequal == []


def test_merged_and_quantized_models_are_byte_identical(runs, outputs):
    first, second = runs
    models = [path for path in paths(outputs, "models/") if path != "models/adapter"]
    expected = outputs_digest(first, models)
    assert "models/quantized/model.safetensors" in expected
    assert outputs_digest(second, models) == expected


def test_adapter_files_are_byte_identical(runs):
    first, second = runs
    assert outputs_digest(second, ("models/adapter",)) == outputs_digest(first, ("models/adapter",))


def test_adapter_configs_agree_up_to_the_order_of_target_modules(runs):
    configs = [
        json.loads((root / "models/adapter/adapter_config.json").read_text()) for root in runs
    ]
    modules = [set(config.pop("target_modules")) for config in configs]
    assert modules[0] == modules[1]
    assert configs[0] == configs[1]


def test_metrics_are_identical(runs, outputs):
    # Wall time and memory are measured by bench/ scripts or on request
    # (quantize.latency_rounds), never by default: they would make every run's dvc.lock differ.
    metrics = paths(outputs, metrics=True)
    assert "metrics/final_eval.json" in metrics
    for path in metrics:
        a, b = (json.loads((root / path).read_text()) for root in runs)
        assert a == b, path


def test_reports_and_plot_data_are_byte_identical(runs, outputs):
    first, second = runs
    rest = [p for p in paths(outputs) if not p.startswith(("data/", "models/"))]
    expected = outputs_digest(first, rest)
    assert {"reports/plots/exact_match.csv", "reports/evaluation.html"} <= expected.keys()
    assert any(name.endswith(".tsv") for name in expected)  # the training curves
    assert outputs_digest(second, rest) == expected


def test_the_second_run_trained_exactly_the_configured_steps(runs):
    _, second = runs
    metrics = json.loads((second / "metrics/train_lora.json").read_text())
    assert metrics["steps"] == QUICK_PARAMS["train"]["max_steps"]


@pytest.mark.parametrize("which", [0, 1], ids=["first", "second"])
def test_outputs_hold_no_absolute_path_or_timestamp(runs, outputs, which):
    root = runs[which]
    leaks = []
    for output in outputs:
        path = root / output.path
        for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            data = file.read_bytes()
            if str(root).encode() in data or str(root.parent).encode() in data:
                leaks.append(f"{file.relative_to(root)}: absolute path")
            if match := ISO_DATE.search(data):
                leaks.append(f"{file.relative_to(root)}: date {match.group().decode()}")
    assert leaks == []


def test_run_cache_restores_a_stage_without_persistent_outputs(runs):
    """The control for the next test: an ordinary stage does come back from the run-cache."""
    _, project = runs
    shutil.rmtree(project / "data/split")
    output = dvc("repro", "split", cwd=project).output
    assert "Stage 'split' is cached - skipping run" in output
    assert ran_stages(output) == []


def test_generate_qa_reruns_its_command_and_keeps_its_response_cache(runs):
    """generate_qa's response cache is `persist: true`, which keeps the stage out of DVC's
    run-cache (dvc/stage/cache.py `_can_hash`): DVC never swaps in a stored qa.csv, nor rolls
    data/qa_cache back to an older snapshot, which would make the next run pay again for the
    responses it loses."""
    _, project = runs
    paid = project / "data/qa_cache/gemini/responses/ab/abcdef.json"
    paid.parent.mkdir(parents=True)
    paid.write_text('{"a paid response": "kept"}\n')
    qa = project / "data/qa/qa.csv"
    expected = qa.read_bytes()
    qa.unlink()

    output = dvc("repro", "generate_qa", cwd=project).output

    assert ran_stages(output) == ["generate_qa"]
    assert "is cached" not in output
    assert "INFO generate_qa:" in output  # the stage's own log: its command really ran
    assert qa.read_bytes() == expected
    assert paid.read_text() == '{"a paid response": "kept"}\n'


def test_forcing_train_lora_retrains_rather_than_resuming_a_finished_run(runs):
    _, project = runs
    output = dvc("repro", "--force", "--single-item", "train_lora", cwd=project).output
    metrics = json.loads((project / "metrics/train_lora.json").read_text())
    assert "resuming" not in output
    assert metrics["steps"] == QUICK_PARAMS["train"]["max_steps"]
