"""Does each model folder's card load a model that answers as the pipeline measured?

    python -m abo_vqa.devtools.card_contract [--project DIR] [--exports]

For each model folder the pipeline made (models/adapter, models/merged, models/quantized), and
with `--exports` for each `abo-vqa export model` variant written afresh into a temporary folder:
the first ```python block of its README.md, with THIS_FOLDER replaced by the folder's path, runs
in a fresh interpreter (`python -I`, nothing of abo_vqa imported: it checks). That interpreter then
asks every test question, one at a time, with plain transformers code (`processor(...)`,
`model.generate(...)`, `processor.decode(...)`), and its raw answers are compared with the
pipeline's own raw predictions of that model: data/eval/final/finetuned.csv for the adapter and
the merged model (a merge must answer as its adapter), quantized.csv for the quantized model.
BLIP folders only: other families answer through prompts the card leaves to the user.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from abo_vqa import abo
from abo_vqa.cards import THIS_FOLDER, first_python_block
from abo_vqa.io import read_csv
from abo_vqa.params import Params, load_params

PIPELINE_FOLDERS: dict[str, str] = {
    "adapter": "models/adapter",
    "merged": "models/merged",
    "quantized": "models/quantized",
}
REFERENCE_PREDICTIONS: dict[str, str] = {
    "adapter": "data/eval/final/finetuned.csv",
    "merged": "data/eval/final/finetuned.csv",
    "quantized": "data/eval/final/quantized.csv",
}
"""Variant -> the pipeline's predictions its card's model must reproduce."""

ASK_EVERY_QUESTION = """
import json, sys
import torch
from PIL import Image

card, questions, max_new_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
namespace = {}
exec(compile(open(card).read(), "card", "exec"), namespace)
model, processor = namespace["model"], namespace["processor"]
answers = []
with torch.no_grad():
    for path, question in json.load(open(questions)):
        image = Image.open(path).convert("RGB")
        inputs = processor(images=image, text=question, return_tensors="pt")
        output = model.generate(**inputs, max_new_tokens=max_new_tokens)
        answers.append(processor.decode(output[0], skip_special_tokens=True).strip())
leaked = sorted(name for name in sys.modules if name.split(".")[0] == "abo_vqa")
if leaked:
    sys.exit(f"the card's code imported {leaked[0]}")
json.dump(answers, sys.stdout)
"""
"""What a user does with a card's model and processor, as a script run in a fresh interpreter."""


@dataclass(frozen=True)
class Agreement:
    folder: str
    agree: int
    total: int
    first_difference: str = ""


def card_answers(
    folder: Path, questions: Sequence[tuple[str, str]], max_new_tokens: int, cwd: Path
) -> list[str]:
    """The raw answers of the model `folder`'s card loads, to (image path, question) pairs."""
    code = first_python_block((folder / "README.md").read_text(encoding="utf-8"))
    code = code.replace(THIS_FOLDER, str(folder.resolve()))
    with tempfile.TemporaryDirectory() as scratch:
        card_file, questions_file = Path(scratch, "card.py"), Path(scratch, "questions.json")
        card_file.write_text(code, encoding="utf-8")
        questions_file.write_text(json.dumps(list(questions)), encoding="utf-8")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        script = [sys.executable, "-I", "-c", ASK_EVERY_QUESTION]
        result = subprocess.run(
            [*script, str(card_file), str(questions_file), str(max_new_tokens)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        raise RuntimeError(f"{folder}: the card's code failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def compare(
    folder: Path, answers: Sequence[str], predictions: Sequence[Mapping[str, str]]
) -> Agreement:
    """How many of `answers` equal the pipeline's raw predictions, in order."""
    expected = [row["raw_prediction"] for row in predictions]
    if len(expected) != len(answers):
        raise ValueError(f"{folder}: {len(answers)} answers for {len(expected)} predictions")
    differences = [
        f"{row['question']!r}: card {a!r}, pipeline {e!r}"
        for row, a, e in zip(predictions, answers, expected, strict=True)
        if a != e
    ]
    agree = len(answers) - len(differences)
    return Agreement(str(folder), agree, len(answers), differences[0] if differences else "")


def check_folders(
    project: Path, folders: Sequence[tuple[str, Path]], params: Params
) -> list[Agreement]:
    """The card contract of each (variant, folder) on the project's test split."""
    test_rows = read_csv(project / "data/split/test.csv")
    images = abo.images_dir(project / params.data.abo_root)
    questions = [(str(images / row["image_path"]), row["question"]) for row in test_rows]
    results = []
    for variant, folder in folders:
        predictions = read_csv(project / REFERENCE_PREDICTIONS[variant])
        answers = card_answers(folder, questions, params.model.max_new_tokens, cwd=project)
        results.append(compare(folder, answers, predictions))
    return results


def exported_folders(project: Path, out: Path) -> list[tuple[str, Path]]:
    """`abo-vqa export model` of every variant into folders under `out` (run in `project`)."""
    folders = []
    for variant in PIPELINE_FOLDERS:
        folder = out / f"export-{variant}"
        command = [sys.executable, "-m", "abo_vqa.cli", "export", "model", str(folder)]
        subprocess.run(
            [*command, "--variant", variant],
            cwd=project,
            check=True,
            capture_output=True,
        )
        folders.append((variant, folder))
    return folders


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("--exports", action="store_true", help="also every export variant")
    args = parser.parse_args(argv)
    project = args.project.resolve()
    params = load_params(project / "params.yaml")
    folders = [(variant, project / path) for variant, path in PIPELINE_FOLDERS.items()]
    with tempfile.TemporaryDirectory() as scratch:
        if args.exports:
            folders += exported_folders(project, Path(scratch))
        results = check_folders(project, folders, params)
    for (variant, _), result in zip(folders, results, strict=True):
        agreement = f"{result.agree} of {result.total} answers as the pipeline's"
        print(f"{variant} {result.folder}: {agreement}")
        if result.first_difference:
            print(f"  first difference: {result.first_difference}")
    return 0 if all(r.agree == r.total for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
