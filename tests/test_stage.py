"""Stage scripts end an input mistake with one line naming what to fix, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from abo_vqa.io import InputError, read_json
from abo_vqa.stage import INPUT_ERROR_EXIT_STATUS, report_input_errors, run_stage

REPO = Path(__file__).resolve().parents[1]


def _run_split(tmp_path: Path, params: str, qa_csv: str) -> subprocess.CompletedProcess:
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text() + params)
    (tmp_path / "qa.csv").write_text(qa_csv)
    command = [sys.executable, str(REPO / "stages/split.py"), "--qa", "qa.csv", "--out", "out"]
    command += ["--metrics", "split.json", "--params", "params.yaml"]
    env = {**os.environ, "ABO_VQA_TRACEBACK": "0"}
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env)


def test_a_params_typo_ends_the_stage_with_one_line_naming_the_key(tmp_path):
    result = _run_split(tmp_path, "\nspliit: {}\n", "image_id\n")
    assert result.returncode == INPUT_ERROR_EXIT_STATUS
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("split: error:") and "spliit" in result.stderr


def test_a_malformed_input_file_is_named_without_a_traceback(tmp_path):
    result = _run_split(tmp_path, "", "image_id,question\nx,what?\n")
    assert result.returncode == INPUT_ERROR_EXIT_STATUS
    assert "Traceback" not in result.stderr
    assert "qa.csv: missing column(s)" in result.stderr


def test_malformed_json_is_named_with_its_line_and_column(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text('{\n  "exact_match": 0.5,\n  "bleu": \n}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"metrics\.json:4:1: not valid JSON \(Expecting value\)"):
        read_json(path)


def test_a_bug_keeps_its_traceback():
    def buggy() -> None:
        raise KeyError("not an input error")

    with pytest.raises(KeyError):
        run_stage(buggy)


def test_the_traceback_can_be_asked_for(monkeypatch):
    def bad_input() -> None:
        raise InputError("data.csv:3: broken")

    monkeypatch.setenv("ABO_VQA_TRACEBACK", "1")
    with pytest.raises(InputError):
        run_stage(bad_input)


def test_deterministic_torch_fixes_the_thread_count_and_the_ops():
    import torch

    from abo_vqa.determinism import deterministic_torch

    previous = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    try:
        deterministic_torch(3)
        assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == (3, True)
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1])


STAGES = sorted((REPO / "stages").glob("*.py"))
DVC_STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def imports_ended(script: Path) -> list[str]:
    """The modules `script --help` imports, in the order their imports ended."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(script), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]


@pytest.mark.parametrize("script", STAGES, ids=lambda path: path.stem)
def test_every_stage_caps_the_instruction_set_before_torch_and_fixes_its_threads(script):
    # The cap (abo_vqa.determinism) is read once, when torch loads: a stage that loaded torch
    # before abo_vqa would run AVX-512 kernels on a machine that has them, and its results would
    # differ from every other machine's. An import is listed when it ends, and the abo_vqa
    # package's own import (its __init__, which sets the cap) ends before any of its modules
    # loads torch: so "torch" listed before "abo_vqa" means torch came first.
    imported = imports_ended(script)
    order = [name for name in imported if name in ("abo_vqa", "torch")]
    assert order and order[0] == "abo_vqa", f"{script.name} imports torch before abo_vqa"
    runs_a_model = "models/base" in DVC_STAGES[script.stem]["deps"]
    # `stage_arguments(..., runs_models=True)` fixes the threads from model.cpu_threads
    fixes_threads = "runs_models=True" in script.read_text()
    assert fixes_threads == runs_a_model, f"{script.name}: threads not fixed from the params"


def test_the_cap_is_checked_where_it_was_wanted_but_came_too_late(monkeypatch):
    import torch

    from abo_vqa import determinism

    monkeypatch.setattr(determinism, "cap_wanted", lambda: True)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    with pytest.raises(RuntimeError, match="torch was imported before abo_vqa"):
        determinism.check_instruction_set()
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    determinism.check_instruction_set()


def test_the_cap_leaves_what_the_user_set_and_can_be_switched_off(monkeypatch):
    from abo_vqa import determinism

    monkeypatch.setattr(determinism, "cpu_has_avx2", lambda: True)
    assert determinism.cap_wanted({})
    assert not determinism.cap_wanted({"ABO_VQA_CPU_ISA": "native"})
    with pytest.raises(ValueError, match="ABO_VQA_CPU_ISA='avx512': expected avx2 or native"):
        determinism.cap_wanted({"ABO_VQA_CPU_ISA": "avx512"})
    for name in determinism.AVX2_CAP:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "SSE4_2")
    determinism.cap_instruction_set()
    assert os.environ["ATEN_CPU_CAPABILITY"] == "avx2"
    assert os.environ["MKL_ENABLE_INSTRUCTIONS"] == "SSE4_2"  # the user's choice stands


def test_a_machine_without_avx2_is_never_capped(monkeypatch):
    from abo_vqa import determinism

    monkeypatch.setattr(determinism, "cpu_has_avx2", lambda: False)
    assert not determinism.cap_wanted({})


def _run_baseline_eval(
    tmp_path: Path, base: str, extra_env: dict[str, str]
) -> subprocess.CompletedProcess:
    """baseline_eval on a one-question split with `model.base: base`."""
    import yaml
    from PIL import Image

    from abo_vqa.qa.base import QA_COLUMNS

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["abo_root"] = "abo"
    params["model"]["base"] = base
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "abo/images/small").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "abo/images/small/a.jpg")
    (tmp_path / "models").mkdir()
    row = {"image_id": "a", "item_id": "i", "image_path": "a.jpg", "question": "what color?",
           "answer": "black", "question_type": "color", "provider": "template"}  # fmt: skip
    (tmp_path / "splits").mkdir()
    for name in ("train", "test"):
        header = ",".join(QA_COLUMNS)
        line = ",".join(row[column] for column in QA_COLUMNS)
        (tmp_path / "splits" / f"{name}.csv").write_text(f"{header}\n{line}\n")
    command = [sys.executable, str(REPO / "stages/baseline_eval.py"), "--splits", "splits"]
    command += ["--predictions", "predictions", "--metrics", "m.json", "--params", "params.yaml"]
    env = {**os.environ, "ABO_VQA_TRACEBACK": "0", **extra_env}
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("models/base/nope", "model folder 'models/base/nope' does not exist"),
        ("Salesforce/blip-vqa-base", "model 'Salesforce/blip-vqa-base' is not a folder here"),
    ],
)
def test_a_base_model_that_cannot_be_had_ends_the_stage_with_one_line(tmp_path, base, expected):
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty-hf-home")}
    result = _run_baseline_eval(tmp_path, base, env)
    assert result.returncode == INPUT_ERROR_EXIT_STATUS, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("baseline_eval: error: ") and expected in line
    assert "models/base/tiny-blip-vqa" in line  # the shipped base, as the way out


def test_cli_and_stages_share_one_edge(capsys):
    def bad_input() -> int:
        raise InputError("q.csv:\n  line 3 broken")

    with pytest.raises(SystemExit) as exit_info:
        report_input_errors("abo-vqa predict", bad_input)
    assert exit_info.value.code == INPUT_ERROR_EXIT_STATUS
    assert capsys.readouterr().err == "abo-vqa predict: error: q.csv: line 3 broken\n"


def test_a_librarys_repeated_message_is_shown_once_and_the_stages_own_lines_all(tmp_path):
    script = tmp_path / "noisy_stage.py"
    script.write_text(
        "import logging, warnings\n"
        "from abo_vqa.stage import run_stage\n"
        "def main():\n"
        "    for step in range(50):\n"
        "        logging.getLogger('bitsandbytes.autograd').warning('inputs will be cast')\n"
        "        warnings.warn('deprecated thing', FutureWarning)\n"
        "        logging.getLogger('noisy_stage').info('step %d', step)\n"
        "    logging.getLogger('abo_vqa.train').info('done')\n"
        "run_stage(main)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    )
    lines = result.stderr.splitlines()
    assert lines.count("WARNING bitsandbytes.autograd: inputs will be cast") == 1
    assert sum("FutureWarning: deprecated thing" in line for line in lines) == 1
    assert sum(line.startswith("INFO noisy_stage: step ") for line in lines) == 50
    assert "INFO abo_vqa.train: done" in lines
    assert (
        lines[-1]
        == "INFO noisy_stage: 49 repeats of library messages not shown (each was shown once)"
    )
