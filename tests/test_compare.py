"""`abo-vqa compare`: the paired table between two runs' predictions, read from the workspace or
through dvc.api at a revision, and one line of error when the runs cannot be compared.

A small git + DVC repository holds one committed run (data/eval/final tracked by `dvc add`, as
`dvc repro` tracks it); each test writes the workspace's run it compares with it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_errors import one_line_error
from scratch_project import REPO, dvc, git

from abo_vqa.cli import main
from abo_vqa.evaluate import PREDICTION_COLUMNS
from abo_vqa.io import write_csv

FINETUNED = Path("data/eval/final/finetuned.csv")
HEAD_CORRECT = [1, 0, 0] * 20
"""The committed run: 20 of 60 questions right (3 questions on each of 20 images)."""


def run_rows(correct: list[int], *, question: str = "what colour is item {i}?") -> list[dict]:
    return [
        {
            "image_id": f"img{i // 3}",
            "question": question.format(i=i),
            "question_type": "color" if i % 2 else "material",
            "answer": "red",
            "raw_prediction": "red" if value else "blue",
            "prediction": "red" if value else "blue",
            "correct": value,
        }
        for i, value in enumerate(correct)
    ]


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    """HEAD~1: no run yet; HEAD: one run of the fine-tuned model."""
    root = tmp_path_factory.mktemp("compare") / "repo"
    root.mkdir()
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    git("init", "-q", "-b", "main", cwd=root)
    for key, value in (("user.name", "t"), ("user.email", "t@example.invalid")):
        git("config", key, value, cwd=root)
    dvc("init", "-q", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "no run yet", cwd=root)
    write_csv(root / FINETUNED, run_rows(HEAD_CORRECT), PREDICTION_COLUMNS)
    dvc("add", "-q", "data/eval/final", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "a run", cwd=root)
    return root


@pytest.fixture
def workspace(repository, monkeypatch):
    """Write the workspace's run (a predictions table) in the repository, run from there."""
    monkeypatch.chdir(repository)

    def write(rows: list[dict]) -> None:
        (repository / FINETUNED).unlink()  # `dvc add` may have linked it to the cache
        write_csv(repository / FINETUNED, rows, PREDICTION_COLUMNS)

    yield write
    write(run_rows(HEAD_CORRECT))


def table_row(out: str, first: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"| {first} |"))


def test_by_default_the_workspace_is_compared_with_head_read_through_dvc(workspace, capsys):
    workspace(run_rows([1, 1, 0] * 20))  # 20 more right answers, one on every image
    assert main(["compare"]) == 0
    captured = capsys.readouterr()
    assert "## workspace against HEAD" in captured.out
    row = table_row(captured.out, "finetuned@workspace")
    assert row.startswith("| finetuned@workspace | finetuned@HEAD | 60 | 66.7 | 33.3 | +33.3 |")
    assert row.endswith("| < 0.001 | better |")
    assert "### finetuned@workspace against finetuned@HEAD, per question type" in captured.out
    assert "left out quantized: workspace: data/eval/final/quantized.csv does not exist" in (
        captured.err
    )


def test_the_same_run_twice_is_no_detectable_difference(workspace, capsys):
    workspace(run_rows(HEAD_CORRECT))
    assert main(["compare", "HEAD", "workspace"]) == 0
    row = table_row(capsys.readouterr().out, "finetuned@workspace")
    assert row.endswith("| +0.0 | +0.0 to +0.0 | 1.000 | no detectable difference at 95% |")


def test_runs_scored_on_other_questions_are_one_line_and_exit_2(workspace, capsys):
    workspace(run_rows(HEAD_CORRECT, question="what material is item {i}?"))
    line = one_line_error(capsys, ["compare"])
    assert line.startswith("abo-vqa compare: error: finetuned@workspace and finetuned@HEAD were")
    assert "not scored on the same test questions: 60 only in finetuned@workspace" in line


def test_a_revision_without_the_predictions_is_one_line_and_exit_2(workspace, capsys):
    line = one_line_error(capsys, ["compare", "HEAD~1", "HEAD"])
    assert line.startswith(f"abo-vqa compare: error: HEAD~1: cannot read {FINETUNED}")


def test_an_unknown_revision_is_one_line_and_exit_2(workspace, capsys):
    line = one_line_error(capsys, ["compare", "no-such-experiment"])
    assert "no-such-experiment: cannot read" in line and "unknown Git revision" in line


def test_a_model_asked_for_by_name_must_be_in_both_runs(workspace, capsys):
    line = one_line_error(capsys, ["compare", "--model", "quantized"])
    assert "data/eval/final/quantized.csv" in line


def test_a_workspace_without_the_run_says_how_to_get_it(workspace, capsys, tmp_path):
    line = one_line_error(capsys, ["compare", "--predictions", str(tmp_path)])
    assert "workspace:" in line and "dvc repro final_eval" in line
