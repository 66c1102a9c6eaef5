"""`abo-vqa`, the command users run: predict a CSV of questions, ask one question, check params.

The inference contract: a CSV of `image_name,question` in, the same rows out with
`generated_answer` (one lowercase word) and `error`; a bad row never stops the others.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from abo_vqa.cli import main
from abo_vqa.models.tiny import TinyBlipSpec, build_tiny_blip
from abo_vqa.models.words import CATALOGUE_QUESTION_WORDS
from abo_vqa.vocabulary import all_answer_words

REPO = Path(__file__).resolve().parents[1]
TINY = TinyBlipSpec(
    image_size=32, patch_size=8, hidden_size=32, num_heads=2, vision_layers=1, text_layers=1
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    """A random tiny BLIP saved as `load_vqa_model` expects a model folder."""
    path = tmp_path_factory.mktemp("model") / "tiny-blip"
    words = (*all_answer_words(), *CATALOGUE_QUESTION_WORDS)
    model, processor = build_tiny_blip(words, image_size=TINY.image_size, spec=TINY)
    model.save_pretrained(str(path))
    processor.save_pretrained(str(path))
    return str(path)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def image_dir(tmp_path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(folder / "red chair.jpg")
    Image.new("L", (20, 20), 90).save(folder / "grey.png")  # not RGB: must still work
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    return folder


def write_questions(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_predict_answers_good_rows_and_reports_bad_ones(tiny_model, image_dir, tmp_path, capsys):
    questions = write_questions(
        tmp_path / "questions.csv",
        [
            {"id": "a", "image_name": "red chair.jpg", "question": "What color is the chair?"},
            {"id": "b", "image_name": "missing.jpg", "question": "what color is it?"},
            {"id": "c", "image_name": "corrupt.jpg", "question": "what material is it?"},
            {"id": "d", "image_name": "red chair.jpg", "question": "   "},
            {"id": "e", "image_name": "grey.png", "question": "how many items are shown?"},
        ],
    )
    out = tmp_path / "results.csv"
    code = main(
        [
            "predict",
            "--image-dir", str(image_dir),
            "--csv", str(questions),
            "--out", str(out),
            "--model", tiny_model,
            "--batch-size", "2",
        ]
    )  # fmt: skip

    assert code == 0
    columns, rows = read_rows(out)
    assert columns == ["id", "image_name", "question", "generated_answer", "error"]
    assert [row["id"] for row in rows] == [
        "a",
        "b",
        "c",
        "d",
        "e",
    ]  # input order, extra column kept
    errors = {row["id"]: row["error"] for row in rows}
    assert errors["b"] == "line 3: image not found: missing.jpg"
    assert errors["c"].startswith("line 4: cannot read image corrupt.jpg")
    assert errors["d"] == "line 5: empty question"
    for row in rows:
        answer = row["generated_answer"]
        if row["id"] in ("a", "e"):
            assert row["error"] == ""
            assert answer and answer == answer.lower() and len(answer.split()) == 1
        else:
            assert answer == ""
    assert "2 answered, 3 with errors" in capsys.readouterr().err


def test_predict_fails_naming_the_file_when_a_column_is_missing(tiny_model, image_dir, tmp_path):
    questions = write_questions(tmp_path / "q.csv", [{"image": "red chair.jpg", "q": "what?"}])
    with pytest.raises(
        ValueError, match=r"q\.csv: missing column\(s\) \['image_name', 'question'\]"
    ):
        main(["predict", "--image-dir", str(image_dir), "--csv", str(questions),
              "--out", str(tmp_path / "out.csv"), "--model", tiny_model])  # fmt: skip


def test_ask_prints_one_lowercase_word(tiny_model, image_dir, capsys):
    code = main(["ask", str(image_dir / "red chair.jpg"), "What color is the chair?",
                 "--model", tiny_model])  # fmt: skip
    printed = capsys.readouterr().out.splitlines()
    assert code == 0
    assert len(printed) == 1
    assert printed[0] == printed[0].lower() and len(printed[0].split()) == 1


def test_ask_about_a_missing_image_fails_with_the_reason(tiny_model, image_dir, capsys):
    code = main(["ask", str(image_dir / "nowhere.jpg"), "what color?", "--model", tiny_model])
    streams = capsys.readouterr()
    assert code == 1
    assert streams.out == ""
    # (transformers may print a loading progress bar first)
    assert streams.err.strip().splitlines()[-1] == "image not found: nowhere.jpg"


def abo_vqa(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as users run it."""
    script = Path(sys.executable).parent / "abo-vqa"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_check_params_accepts_the_shipped_params():
    result = abo_vqa("check-params", str(REPO / "params.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("params.yaml: ok")


def test_check_params_names_a_misspelt_key_and_exits_2(tmp_path):
    text = (REPO / "params.yaml").read_text(encoding="utf-8")
    assert "\n  learning_rate:" in text
    bad = tmp_path / "params.yaml"
    bad.write_text(text.replace("\n  learning_rate:", "\n  learning_rat:"), encoding="utf-8")

    result = abo_vqa("check-params", str(bad))

    assert result.returncode == 2
    assert str(bad) in result.stderr
    assert "train: unknown key(s) 'learning_rat'" in result.stderr
