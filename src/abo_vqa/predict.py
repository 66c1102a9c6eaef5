"""The inference contract users already know: a CSV of `image_name,question` in, answers out.

A row whose image is missing or corrupt, or whose question is empty, gets an empty answer and a
message in the `error` column; the other rows are still answered (batched).

The CSV is streamed (see `abo_vqa.streaming`): images are decoded a window of rows at a time
ahead of the model, and each window's results are appended to the output as soon as it is
answered, so memory does not grow with the CSV and a killed run keeps what it wrote. A run with
`resume` answers only the rows its output does not hold yet, and ends with the file an
uninterrupted run writes.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from abo_vqa.answers import postprocess
from abo_vqa.io import InputError, iter_csv

INPUT_COLUMNS: tuple[str, ...] = ("image_name", "question")
ANSWER_COLUMNS: tuple[str, ...] = ("generated_answer", "error")
"""Added to the input's columns in the output."""


@dataclass(frozen=True)
class PreparedRow:
    image: Image.Image | None
    question: str
    error: str


def read_image(path: Path) -> Image.Image:
    """The image at `path`, decoded, in RGB."""
    with Image.open(path) as image:
        return image.convert("RGB")


def row_problem(row: Mapping[str, str | None], line: int) -> str:
    """Why the row cannot be asked at all ("" when it can)."""
    if not (row.get("question") or "").strip():
        return f"line {line}: empty question"
    if not (row.get("image_name") or "").strip():
        return f"line {line}: empty image_name"
    return ""


def image_problem(name: str, error: Exception, line: int) -> str:
    """The error column's message for a row whose image `name` failed to load with `error`."""
    if isinstance(error, FileNotFoundError):
        return f"line {line}: image not found: {name}"
    return f"line {line}: cannot read image {name}: {error}"


def prepare_row(row: Mapping[str, str], image_dir: Path, line: int) -> PreparedRow:
    """Load one row's image and check its question; problems become an error message."""
    question = (row.get("question") or "").strip()
    problem = row_problem(row, line)
    if problem:
        return PreparedRow(None, question, problem)
    name = row["image_name"].strip()
    try:
        return PreparedRow(read_image(image_dir / name), question, "")
    except OSError as error:
        return PreparedRow(None, question, image_problem(name, error, line))


def answered_windows(
    vqa_model: Any,
    rows: Iterable[tuple[int, Mapping[str, str]]],
    image_dir: Path,
    *,
    batch_size: int,
    max_new_tokens: int,
    postprocess_mode: str,
    skip: int = 0,
) -> Iterator[list[dict[str, str]]]:
    """Each (line number, input row) plus `generated_answer` and `error`, in input order, one list
    per window of rows as soon as it is answered.

    The first `skip` rows are neither answered nor returned (an earlier run wrote them); they
    still count towards the windows, so the other rows are batched as in a run without `skip`.
    """

    def requests() -> Iterator[Any]:
        from abo_vqa.streaming import Request

        for index, (line, row) in enumerate(rows):
            problem = row_problem(row, line)
            name = (row.get("image_name") or "").strip()
            ask = index >= skip and not problem
            yield Request((index, line, row, problem), name, row["question"].strip(), ask)

    from abo_vqa.streaming import stream_answers

    windows = stream_answers(
        vqa_model,
        requests(),
        lambda name: read_image(image_dir / name),
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
    )
    for window in windows:
        results = []
        for (index, line, row, problem), answer in window:
            if index < skip:
                continue
            if answer.error is not None:
                problem = image_problem(row["image_name"].strip(), answer.error, line)
            text = postprocess(answer.text, postprocess_mode) if answer.text is not None else ""
            results.append({**row, "generated_answer": text, "error": problem})
        if results:
            yield results


def answer_rows(
    vqa_model: Any,
    rows: Iterable[Mapping[str, str]],
    image_dir: Path,
    *,
    batch_size: int,
    max_new_tokens: int,
    postprocess_mode: str,
) -> list[dict[str, str]]:
    """Each input row plus `generated_answer` and `error` (CSV line numbers start at 2)."""
    windows = answered_windows(
        vqa_model,
        enumerate(rows, start=2),
        image_dir,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        postprocess_mode=postprocess_mode,
    )
    return [result for window in windows for result in window]


# --- the CSV files ----------------------------------------------------------------------------


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of the question CSV, streaming (`iter_csv`'s errors), and an
    `InputError` naming the line of a row with more fields than the header."""
    for line, row in iter_csv(path, INPUT_COLUMNS):
        if None in row:  # csv.DictReader's key for the fields beyond the header's
            raise InputError(f"{path}:{line}: more fields than the header has")
        yield line, row


def check_questions(path: Path) -> tuple[list[str], int]:
    """The output columns for the question CSV at `path` and its number of rows, reading it
    once through (`read_rows`'s errors), so that a bad file fails before a model loads."""
    count = sum(1 for _ in read_rows(path))
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), list(INPUT_COLUMNS))
    return [*dict.fromkeys([*header, *ANSWER_COLUMNS])], count


def rows_written(out: Path, columns: list[str], questions: Path) -> int:
    """How many rows of `questions` an earlier run wrote to `out` (0 if there is no `out`).

    A last record cut short by a kill is removed from the file. Raises `InputError` if `out`
    was not written from `questions` with these columns: another header, more rows than
    `questions` has, or a written row whose input fields differ from the row it stands for.
    """
    if not out.exists():
        return 0
    records = _complete_records(out)
    header, end = next(records, (None, 0))
    if header is None:
        return 0  # not even a whole header: start afresh
    if header != columns:
        raise InputError(f"--out '{out}': its header {header} is not {columns}; cannot resume it")
    inputs = columns[: -len(ANSWER_COLUMNS)]
    question_rows = read_rows(questions)
    count = 0
    for record, end in records:  # noqa: B007 - `end` is read after the loop
        line, row = next(question_rows, (0, None))
        if row is None:
            raise InputError(f"--out '{out}' holds more rows than {questions}; cannot resume it")
        if record[: len(inputs)] != [row[column] for column in inputs]:
            raise InputError(
                f"--out '{out}': row {count + 1} is not {questions} line {line}; "
                "it was written from another question file"
            )
        count += 1
    with out.open("r+b") as handle:
        handle.truncate(end)
    return count


def _complete_records(path: Path) -> Iterator[tuple[list[str], int]]:
    """The records of a CSV file, each with the byte offset where it ends, up to the first
    incomplete one: cut inside a quoted field, without its final newline, or with another number
    of fields than the first record."""
    offset = 0
    terminated = True

    def lines() -> Iterator[str]:
        nonlocal offset, terminated
        with path.open("rb") as handle:
            for raw in handle:
                offset += len(raw)
                terminated = raw.endswith(b"\n")
                yield raw.decode("utf-8", errors="replace")

    # csv.reader takes lines only as a record needs them: after each record, `offset` is its end.
    reader = csv.reader(lines(), strict=True)
    fields = None
    while True:
        try:
            record = next(reader)
        except (StopIteration, csv.Error):  # csv.Error: the file ends inside a quoted field
            return
        fields = len(record) if fields is None else fields
        if not terminated or len(record) != fields:
            return
        yield record, offset


@dataclass(frozen=True)
class PredictSummary:
    answered: int
    """Rows answered by this run."""
    errors: list[str]
    """This run's error messages, in row order."""
    resumed_after: int
    """Rows an earlier run had written."""


def predict_csv(
    vqa_model: Any,
    questions: Path,
    image_dir: Path,
    out: Path,
    *,
    columns: list[str],
    resumed_after: int,
    batch_size: int,
    max_new_tokens: int,
    postprocess_mode: str,
    progress: Callable[[int], None] | None = None,
) -> PredictSummary:
    """Answer the rows of `questions` after the first `resumed_after` (already in `out`, see
    `rows_written`), appending each window's results to `out` as it is answered."""
    out.parent.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    answered = 0
    with out.open("a" if resumed_after else "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        if not resumed_after:
            writer.writeheader()
        windows = answered_windows(
            vqa_model,
            read_rows(questions),
            image_dir,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            postprocess_mode=postprocess_mode,
            skip=resumed_after,
        )
        for window in windows:
            writer.writerows(window)
            handle.flush()
            os.fsync(handle.fileno())
            answered += len(window)
            errors.extend(row["error"] for row in window if row["error"])
            if progress is not None:
                progress(resumed_after + answered)
    return PredictSummary(answered, errors, resumed_after)
