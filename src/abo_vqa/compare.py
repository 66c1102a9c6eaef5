"""`abo-vqa compare`: the paired comparison of one model between two runs of the pipeline.

`dvc metrics diff` shows that exact match moved from 32.0 to 33.1 after `dvc exp run -S
lora.r=64`; this says whether that is a difference at all. It reads each run's predictions file
(data/eval/final/<model>.csv) from the workspace, or through `dvc.api` at a git revision or a
`dvc exp` name (from DVC's cache, or a remote when the cache lacks it), pairs the two runs
question by question and tests the difference like final_eval's paired comparisons.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from abo_vqa.evaluate import PREDICTION_COLUMNS
from abo_vqa.io import InputError, read_csv, read_csv_text
from abo_vqa.paired import PairedSettings, Row, compare_tables
from abo_vqa.report import paired_markdown

WORKSPACE = "workspace"
"""The revision name of the files on disk (as in `dvc metrics diff`)."""
DEFAULT_MODELS: tuple[str, ...] = ("finetuned", "quantized")
"""Compared by default: the first must be in both runs, the others are compared when they are."""


def read_run_predictions(path: Path, rev: str) -> list[dict[str, str]]:
    """A predictions file as one run wrote it: the workspace's file, or the file at `rev`
    (a git revision or `dvc exp` name) through `dvc.api`. One-line `InputError` when the
    revision or the file is missing."""
    if rev == WORKSPACE:
        if not path.is_file():
            raise InputError(
                f"{WORKSPACE}: {path} does not exist: `dvc repro final_eval` writes it, "
                "`dvc checkout` restores it"
            )
        return read_csv(path, required=PREDICTION_COLUMNS)
    import dvc.api  # here: importing dvc takes a second that the other commands need not pay
    from dvc.exceptions import DvcException
    from dvc_data.index import DataIndexError

    try:
        with dvc.api.open(str(path), rev=rev, mode="rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            return read_csv_text(text, f"{path} at {rev}", PREDICTION_COLUMNS)
    except DataIndexError as error:
        raise InputError(
            f"{rev}: cannot read {path}: that run's outputs are neither in the DVC cache nor in "
            f"a remote storage configured at {rev} ({error})"
        ) from error
    except (DvcException, OSError) as error:
        reason = str(error) or type(error).__name__
        raise InputError(f"{rev}: cannot read {path}: {reason}") from error


@dataclass(frozen=True)
class RunComparison:
    """The comparisons of each model present in both runs, and the models left out."""

    markdown: str
    left_out: tuple[str, ...]
    """"<model>: <why>" for each optional model that could not be compared."""


def compare_runs(
    old: str,
    new: str,
    *,
    folder: Path,
    models: Sequence[str],
    required: int,
    settings: PairedSettings,
) -> RunComparison:
    """Each of `models` in run `new` against the same model in run `old` (differences are
    new minus old). The first `required` models must be in both runs; the others are compared
    when both runs have them."""
    comparisons = {}
    left_out = []
    for position, model in enumerate(models):
        path = folder / f"{model}.csv"
        try:
            runs: dict[str, list[Row]] = {
                rev: read_run_predictions(path, rev) for rev in (new, old)
            }
        except InputError as error:
            if position < required:
                raise
            left_out.append(f"{model}: {error}")
            continue
        comparisons[model] = compare_tables(
            runs[new], runs[old], settings, names=(f"{model}@{new}", f"{model}@{old}")
        )
    heading = f"## {new} against {old}"
    return RunComparison(paired_markdown(comparisons, settings, heading=heading), tuple(left_out))
