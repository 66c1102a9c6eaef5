"""`abo-vqa predict` on a CSV that outlives the process: results are written a window at a time,
a killed run keeps them, and `--resume` ends with the file an uninterrupted run writes."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from tiny_models import build_tiny_test_blip

from abo_vqa.cli import main
from abo_vqa.models.blip import BlipVQAModel

REPO = Path(__file__).resolve().parents[1]
SHIPPED_BASE = REPO / "models" / "base" / "tiny-blip-vqa"
QUESTIONS = (
    "what color is the chair?",
    "how many are shown?",
    "is the mug red, or blue?",  # a comma: written quoted
    "what?",
)

ROWS = 640
"""Ten windows at batch size 4: the run is still going when its first window is written."""

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    model, processor = build_tiny_test_blip()
    folder = tmp_path_factory.mktemp("model") / "tiny"
    BlipVQAModel(model, processor, torch.device("cpu")).save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    for i in range(12):
        Image.new("RGB", (40, 30), (20 * i, 255 - 20 * i, 90)).save(folder / f"{i}.jpg")
    return folder


def write_questions(path: Path, rows: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "image_name", "question"])
        writer.writerows((f"r{i}", f"{i % 12}.jpg", QUESTIONS[i % 4]) for i in range(rows))
    return path


def predict_args(model: str, image_dir: Path, questions: Path, out: Path, *extra: str) -> list[str]:
    return [
        "predict", "--model", model, "--image-dir", str(image_dir), "--csv", str(questions),
        "--out", str(out), "--batch-size", "4", "--threads", "1", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(tiny_model, image_dir, tmp_path_factory) -> tuple[Path, bytes]:
    """(question CSV, the output file of a run that was not interrupted)."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    questions = write_questions(folder / "questions.csv", ROWS)
    out = folder / "results.csv"
    assert main(predict_args(tiny_model, image_dir, questions, out)) == 0
    return questions, out.read_bytes()


def data_rows(path: Path) -> int:
    return max(0, path.read_bytes().count(b"\n") - 1) if path.exists() else 0


def test_a_killed_run_keeps_what_it_wrote_and_resume_ends_with_the_uninterrupted_file(
    tiny_model, image_dir, uninterrupted, tmp_path
):
    questions, expected = uninterrupted
    out = tmp_path / "results.csv"
    command = [sys.executable, "-m", "abo_vqa.cli",
               *predict_args(tiny_model, image_dir, questions, out)]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, env={**os.environ})
    try:
        deadline = time.monotonic() + 300
        while data_rows(out) < 1 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    kept = out.read_bytes()
    assert 0 < data_rows(out) < ROWS
    assert expected.startswith(kept), "what the killed run wrote is a prefix of the full file"

    assert main(predict_args(tiny_model, image_dir, questions, out, "--resume")) == 0
    assert out.read_bytes() == expected


@pytest.mark.parametrize("cut", ["mid-line", "inside-quotes"])
def test_resume_drops_a_record_cut_short_and_answers_it_again(
    tiny_model, image_dir, uninterrupted, tmp_path, cut, capsys
):
    questions, expected = uninterrupted
    lines = expected.splitlines(keepends=True)
    # Line 31 is row 30, whose question holds a comma and is written in quotes.
    partial = lines[31][:8] if cut == "mid-line" else lines[31][: lines[31].index(b",") + 12]
    out = tmp_path / "results.csv"
    out.write_bytes(b"".join(lines[:31]) + partial)

    assert main(predict_args(tiny_model, image_dir, questions, out, "--resume")) == 0
    assert out.read_bytes() == expected
    assert "after the 30 rows written before" in capsys.readouterr().err


def test_resume_with_every_row_written_does_nothing(
    tiny_model, image_dir, uninterrupted, tmp_path, capsys
):
    questions, expected = uninterrupted
    out = tmp_path / "results.csv"
    out.write_bytes(expected)
    assert main(predict_args(tiny_model, image_dir, questions, out, "--resume")) == 0
    assert out.read_bytes() == expected
    assert f"all {ROWS} rows are already in" in capsys.readouterr().err


def test_resume_refuses_an_output_written_from_another_question_file(
    tiny_model, image_dir, uninterrupted, tmp_path, capsys
):
    _, expected = uninterrupted
    other = write_questions(tmp_path / "other.csv", ROWS)
    other.write_text(other.read_text().replace("r5,5.jpg", "r5,6.jpg"))
    out = tmp_path / "results.csv"
    out.write_bytes(expected)
    with pytest.raises(SystemExit) as stopped:
        main(predict_args(tiny_model, image_dir, other, out, "--resume"))
    assert stopped.value.code == 2
    message = capsys.readouterr().err.strip()
    assert f"row 6 is not {other} line 7" in message
    assert out.read_bytes() == expected  # left as it was


@pytest.mark.skipif(not SHIPPED_BASE.is_dir(), reason="the shipped base model is not built")
def test_more_torch_threads_give_the_same_answers(image_dir, tmp_path):
    questions = write_questions(tmp_path / "questions.csv", 200)
    outs = []
    for threads in ("1", "2"):
        out = tmp_path / f"threads-{threads}.csv"
        args = predict_args(str(SHIPPED_BASE), image_dir, questions, out, "--threads", threads)
        assert main([*args, "--batch-size", "16"]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    answers = {row["generated_answer"] for row in csv.DictReader(outs[0].decode().splitlines())}
    assert len(answers) > 1
