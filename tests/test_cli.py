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
from cli_errors import one_line_error
from PIL import Image

from abo_vqa.cli import main
from abo_vqa.models.words import CATALOGUE_QUESTION_WORDS
from abo_vqa.synthetic.tiny import TinyBlipSpec, build_tiny_blip
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
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("2 answered, 3 with errors (first: line 3: image not found")


def test_predict_fails_naming_the_file_when_a_column_is_missing(
    tiny_model, image_dir, tmp_path, capsys
):
    questions = write_questions(tmp_path / "q.csv", [{"image": "red chair.jpg", "q": "what?"}])
    line = one_line_error(capsys, ["predict", "--image-dir", str(image_dir), "--csv",
                                   str(questions), "--out", str(tmp_path / "out.csv"),
                                   "--model", tiny_model])  # fmt: skip
    assert line.startswith("abo-vqa predict: error: ")
    assert f"{questions}: missing column(s) ['image_name', 'question']" in line


def test_ask_prints_one_lowercase_word(tiny_model, image_dir, capsys):
    code = main(["ask", str(image_dir / "red chair.jpg"), "What color is the chair?",
                 "--model", tiny_model])  # fmt: skip
    printed = capsys.readouterr().out.splitlines()
    assert code == 0
    assert len(printed) == 1
    assert printed[0] == printed[0].lower() and len(printed[0].split()) == 1


def test_ask_about_a_missing_image_fails_with_the_reason(tiny_model, image_dir, capsys):
    missing = image_dir / "nowhere.jpg"
    line = one_line_error(capsys, ["ask", str(missing), "what color?", "--model", tiny_model])
    assert line == f"abo-vqa ask: error: image '{missing}' does not exist"


def test_ask_about_a_corrupt_image_fails_with_the_reason(tiny_model, image_dir, capsys):
    corrupt = image_dir / "corrupt.jpg"
    line = one_line_error(capsys, ["ask", str(corrupt), "what color?", "--model", tiny_model])
    assert line.startswith(f"abo-vqa ask: error: {corrupt}: cannot read image corrupt.jpg")


def test_ask_an_empty_question_fails_before_loading_the_model(image_dir, capsys):
    line = one_line_error(capsys, ["ask", str(image_dir / "grey.png"), " ", "--model", "nowhere"])
    assert line == f"abo-vqa ask: error: {image_dir / 'grey.png'}: empty question"


def abo_vqa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as users run it."""
    script = Path(sys.executable).parent / "abo-vqa"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
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


# --- a fresh clone: every failure is one line naming what is missing and how to get it ---------


@pytest.fixture
def fresh_clone(tmp_path, monkeypatch) -> Path:
    """The working directory of a clone before `dvc repro`/`dvc pull`: the shipped models/base
    folder, no pipeline outputs; plus the README's own images/ and questions.csv."""
    (tmp_path / "models" / "base").mkdir(parents=True)
    (tmp_path / "images").mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "images" / "photo.jpg")
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "photo.jpg")
    write_questions(tmp_path / "questions.csv", [{"image_name": "photo.jpg", "question": "what?"}])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_names_the_ways_to_get(line: str, folder: str) -> None:
    assert f"folder '{folder}' does not exist" in line
    assert "`dvc repro`" in line and "`dvc pull`" in line
    assert "--model models/base/tiny-blip-vqa" in line


def test_predict_before_dvc_repro_names_the_missing_model_and_how_to_get_it(fresh_clone, capsys):
    line = one_line_error(
        capsys,
        ["predict", "--image-dir", "images/", "--csv", "questions.csv", "--out", "results.csv"],
    )
    assert line.startswith("abo-vqa predict: error: --model folder 'models/quantized'")
    assert_names_the_ways_to_get(line, "models/quantized")
    assert not (fresh_clone / "results.csv").exists()


def test_ask_before_dvc_repro_names_the_missing_model_and_how_to_get_it(fresh_clone, capsys):
    line = one_line_error(capsys, ["ask", "photo.jpg", "what color is the chair?"])
    assert line.startswith("abo-vqa ask: error: --model folder 'models/quantized'")
    assert_names_the_ways_to_get(line, "models/quantized")


def test_a_missing_adapter_folder_is_named_before_the_model_loads(fresh_clone, capsys):
    base = str(REPO / "models/base/tiny-blip-vqa")
    argv = ["ask", "photo.jpg", "what?", "--model", base, "--adapter", "models/adapter"]
    line = one_line_error(capsys, argv)
    assert "--adapter folder 'models/adapter' does not exist" in line
    assert "`dvc repro train_lora`" in line and "`dvc pull`" in line


def test_a_folder_that_is_not_a_saved_model_is_named(fresh_clone, capsys):
    line = one_line_error(capsys, ["ask", "photo.jpg", "what?", "--model", "models/base"])
    assert "--model folder 'models/base' holds no config.json" in line


def test_the_traceback_is_shown_when_asked_for(fresh_clone, monkeypatch):
    from abo_vqa.models.source import ModelSourceError

    monkeypatch.setenv("ABO_VQA_TRACEBACK", "1")
    with pytest.raises(ModelSourceError, match="models/quantized"):
        main(["ask", "photo.jpg", "what?"])


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--csv", "nothing.csv", "--image-dir", "images"], "--csv 'nothing.csv' does not exist"),
        (["--csv", "images", "--image-dir", "images"], "--csv 'images' is a folder, not a file"),
        (["--csv", "questions.csv", "--image-dir", "pics"], "--image-dir 'pics' is not a folder"),
        (
            ["--csv", "questions.csv", "--image-dir", "images", "--out", "images"],
            "--out 'images' is a folder",
        ),
        (["--csv", "questions.csv", "--image-dir", "images", "--batch-size", "0"], "--batch-size"),
        (["--csv", "questions.csv", "--image-dir", "images", "--family", "llava"], "--family"),
        (["--image-dir", "images"], "the following arguments are required: --csv"),
    ],
)
def test_predict_input_mistakes_are_one_line(fresh_clone, capsys, argv, expected):
    line = one_line_error(capsys, ["predict", *argv])
    assert line.startswith("abo-vqa predict: error: ")
    assert expected in line


def test_a_csv_that_is_not_utf8_is_named(fresh_clone, capsys):
    (fresh_clone / "latin1.csv").write_bytes(
        "image_name,question\nphoto.jpg,couleur é?\n".encode("latin-1")
    )
    line = one_line_error(capsys, ["predict", "--image-dir", "images", "--csv", "latin1.csv",
                                   "--model", str(REPO / "models/base/tiny-blip-vqa")])  # fmt: skip
    assert "latin1.csv: not UTF-8 text" in line


def test_ask_about_a_missing_photo_fails_before_loading_a_model(fresh_clone, capsys):
    line = one_line_error(capsys, ["ask", "nowhere.jpg", "what color is the chair?"])
    assert line == "abo-vqa ask: error: image 'nowhere.jpg' does not exist"


def test_a_hub_id_offline_without_a_cached_copy_is_one_line(tmp_path):
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "photo.jpg")
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty-hf-home")}
    result = abo_vqa("ask", str(tmp_path / "photo.jpg"), "what?",
                     "--model", "Salesforce/blip-vqa-base", env=env)  # fmt: skip
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("abo-vqa ask: error: --model 'Salesforce/blip-vqa-base'")
    assert "HF_HUB_OFFLINE=1" in line and "no cached copy" in line
    assert "--model models/base/tiny-blip-vqa" in line


def test_a_hub_adapter_offline_without_a_cached_copy_is_one_line(fresh_clone, capsys):
    base = str(REPO / "models/base/tiny-blip-vqa")
    line = one_line_error(capsys, ["ask", "photo.jpg", "what?", "--model", base,
                                   "--adapter", "someone/lora-adapter"])  # fmt: skip
    assert "--adapter 'someone/lora-adapter' is not a folder here" in line
    assert "no cached copy" in line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "nothing.yaml: no such file"),
        ("train: [unclosed\n", "nothing.yaml: not valid YAML"),
        ("- a list\n", "nothing.yaml: expected a mapping"),
        ("lora:\n  rr: 64\n", "nothing.yaml: lora: unknown key(s) 'rr'"),
        ("stages: {}\n", "nothing.yaml: unknown key(s) 'stages'"),
    ],
)
def test_check_params_on_a_bad_file_is_one_line(tmp_path, monkeypatch, capsys, content, expected):
    monkeypatch.chdir(tmp_path)
    if content is not None:
        (tmp_path / "nothing.yaml").write_text(content, encoding="utf-8")
    line = one_line_error(capsys, ["check-params", "nothing.yaml"])
    assert line.startswith("abo-vqa check-params: error: ")
    assert expected in line
