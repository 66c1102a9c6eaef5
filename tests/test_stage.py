"""Stage scripts end an input mistake with one line naming what to fix, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from abo_vqa.io import InputError
from abo_vqa.stage import INPUT_ERROR_EXIT_STATUS, run_stage

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


def test_a_stage_that_imported_torch_runs_it_with_fixed_threads_and_deterministic_ops():
    import torch

    from abo_vqa.stage import TORCH_THREADS

    previous = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    seen = []
    torch.set_num_threads(TORCH_THREADS + 1)
    try:
        run_stage(
            lambda: seen.append(
                (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
            )
        )
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1])
    assert seen == [(TORCH_THREADS, True)]
