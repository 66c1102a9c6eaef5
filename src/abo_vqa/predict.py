"""The inference contract users already know: a CSV of `image_name,question` in, answers out.

A row whose image is missing or corrupt, or whose question is empty, gets an empty answer and a
message in the `error` column; the other rows are still answered (batched).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from abo_vqa.answers import postprocess

INPUT_COLUMNS: tuple[str, ...] = ("image_name", "question")


@dataclass(frozen=True)
class PreparedRow:
    image: Image.Image | None
    question: str
    error: str


def prepare_row(row: Mapping[str, str], image_dir: Path, line: int) -> PreparedRow:
    """Load one row's image and check its question; problems become an error message."""
    question = (row.get("question") or "").strip()
    name = (row.get("image_name") or "").strip()
    if not question:
        return PreparedRow(None, "", f"line {line}: empty question")
    if not name:
        return PreparedRow(None, question, f"line {line}: empty image_name")
    path = image_dir / name
    try:
        with Image.open(path) as image:
            return PreparedRow(image.convert("RGB"), question, "")
    except FileNotFoundError:
        return PreparedRow(None, question, f"line {line}: image not found: {name}")
    except OSError as error:
        return PreparedRow(None, question, f"line {line}: cannot read image {name}: {error}")


def answer_rows(
    vqa_model: Any,
    rows: Sequence[Mapping[str, str]],
    image_dir: Path,
    *,
    batch_size: int,
    max_new_tokens: int,
    postprocess_mode: str,
) -> list[dict[str, str]]:
    """Each input row plus `generated_answer` and `error` (CSV line numbers start at 2)."""
    prepared = [prepare_row(row, image_dir, line) for line, row in enumerate(rows, start=2)]
    good = [i for i, p in enumerate(prepared) if not p.error]
    raw = (
        vqa_model.predict(
            [prepared[i].image for i in good],
            [prepared[i].question for i in good],
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
        )
        if good
        else []
    )
    answers = dict(zip(good, (postprocess(r, postprocess_mode) for r in raw), strict=True))
    return [
        {**row, "generated_answer": answers.get(i, ""), "error": prepared[i].error}
        for i, row in enumerate(rows)
    ]
