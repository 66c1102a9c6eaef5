"""What final_eval reports, as plain data and markdown.

Everything here is a pure function of the metrics summaries and the per-sample prediction tables:
the markdown comparison, the tables behind the DVC plots, and the sample predictions the HTML
report (`abo_vqa.report_html`) shows. Same inputs, same output, in a stable order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from abo_vqa.answers import PostprocessMode, normalize_reference

TABLE_METRICS: tuple[str, ...] = ("exact_match", "token_f1")

OTHER_ANSWER = "(other)"
"""The confusion plot's name for every prediction outside the most frequent answers."""


def _cell(summary: Mapping[str, Any], metric: str) -> str:
    value = summary.get(metric)
    if isinstance(value, Mapping) and "mean" in value:
        return f"{100 * value['mean']:.1f}"
    skipped = summary.get("skipped", {}).get(metric)
    return "skipped" if skipped else "–"


def comparison_markdown(
    summaries: Mapping[str, Mapping[str, Any]],
    *,
    order: Sequence[str],
    metrics: Sequence[str] = TABLE_METRICS,
) -> str:
    """A markdown report: overall metrics per model, then exact match per question type."""
    names = [name for name in order if name in summaries]
    lines = [
        "# Evaluation on the test split",
        "",
        "Scores in percent. " + ", ".join(f"`{m}`" for m in metrics) + ".",
        "",
    ]
    lines.append("| model | n | " + " | ".join(metrics) + " |")
    lines.append("|---|---:|" + "---:|" * len(metrics))
    for name in names:
        summary = summaries[name]
        cells = " | ".join(_cell(summary, m) for m in metrics)
        lines.append(f"| {name} | {summary.get('n', '')} | {cells} |")

    types = sorted({t for name in names for t in summaries[name].get("by_type", {})})
    if types:
        lines += ["", "## Exact match per question type", ""]
        lines.append("| model | " + " | ".join(types) + " |")
        lines.append("|---|" + "---:|" * len(types))
        for name in names:
            by_type = summaries[name].get("by_type", {})
            cells = " | ".join(
                f"{100 * by_type[t]['exact_match']:.1f}" if t in by_type else "–" for t in types
            )
            lines.append(f"| {name} | {cells} |")
        counts = summaries[names[0]].get("by_type", {})
        lines += [
            "",
            "Questions per type: "
            + ", ".join(f"{t} {counts[t]['n']}" for t in types if t in counts)
            + ".",
        ]
    return "\n".join(lines) + "\n"


# --- tables behind the DVC plots ------------------------------------------------------------------


@dataclass(frozen=True)
class PlotTable:
    """One CSV file of plot data: its columns and rows, in order."""

    columns: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]


def exact_match_table(
    summaries: Mapping[str, Mapping[str, Any]], order: Sequence[str]
) -> PlotTable:
    """Overall exact match of each model with its 95% interval (models lacking it are left out)."""
    rows = tuple(
        {
            "model": name,
            "exact_match": summaries[name]["exact_match"]["mean"],
            "ci_low": summaries[name]["exact_match"]["ci_low"],
            "ci_high": summaries[name]["exact_match"]["ci_high"],
        }
        for name in order
        if name in summaries and "exact_match" in summaries[name]
    )
    return PlotTable(("model", "exact_match", "ci_low", "ci_high"), rows)


def exact_match_by_type_table(summary: Mapping[str, Any]) -> PlotTable:
    """One model's exact match per question type (types sorted by name)."""
    by_type = summary.get("by_type", {})
    rows = tuple(
        {"question_type": t, "exact_match": by_type[t]["exact_match"], "n": by_type[t]["n"]}
        for t in sorted(by_type)
        if "exact_match" in by_type[t]
    )
    return PlotTable(("question_type", "exact_match", "n"), rows)


def confusion_table(
    predictions: Sequence[Mapping[str, Any]], *, top: int, postprocess_mode: PostprocessMode
) -> PlotTable:
    """(actual, predicted) of every sample whose reference is one of the `top` commonest.

    `predictions` are rows of a predictions file (columns `answer`, the raw reference, and
    `prediction`, the post-processed answer). References are normalised as exact match sees them;
    a prediction outside the kept answers becomes OTHER_ANSWER, so the matrix stays `top` wide
    and its diagonal is exactly the exact-match hits. Ties in frequency break alphabetically.
    """
    actual = [normalize_reference(row["answer"], postprocess_mode) for row in predictions]
    counts = Counter(actual)
    kept = set(sorted(counts, key=lambda answer: (-counts[answer], answer))[:top])
    rows = tuple(
        {
            "actual": reference,
            "predicted": row["prediction"] if row["prediction"] in kept else OTHER_ANSWER,
        }
        for reference, row in zip(actual, predictions, strict=True)
        if reference in kept
    )
    return PlotTable(("actual", "predicted"), rows)


def plot_tables(
    summaries: Mapping[str, Mapping[str, Any]],
    *,
    order: Sequence[str],
    confusion_predictions: Sequence[Mapping[str, Any]],
    confusion_top: int,
    postprocess_mode: PostprocessMode,
) -> dict[str, PlotTable]:
    """Every plot data file by its path relative to the plots folder.

    `exact_match.csv` (per model), `exact_match_by_type/<model>.csv` (one file per model, so
    DVC draws one bar chart each) and `confusion.csv` (of `confusion_predictions`).
    """
    tables = {"exact_match.csv": exact_match_table(summaries, order)}
    for name in order:
        if name in summaries:
            tables[f"exact_match_by_type/{name}.csv"] = exact_match_by_type_table(summaries[name])
    tables["confusion.csv"] = confusion_table(
        confusion_predictions, top=confusion_top, postprocess_mode=postprocess_mode
    )
    return tables


# --- sample predictions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One test question with the fine-tuned model's answer and, beside it, the base model's."""

    image_id: str
    question_type: str
    question: str
    reference: str
    raw_prediction: str
    prediction: str
    correct: bool
    base_prediction: str | None
    """The base model's post-processed answer to the same question (None: not available)."""


def select_examples(
    predictions: Sequence[Mapping[str, Any]],
    base_predictions: Sequence[Mapping[str, Any]],
    *,
    per_type: int,
) -> list[Example]:
    """Up to `per_type` correct and `per_type` incorrect answers per question type.

    Chosen by a stable order, (question type, image_id, question), so the same predictions give
    the same examples whatever order they come in. Returned in that order, correct ones first
    within each type. Base answers are joined on (image_id, question).
    """
    base_answer = {
        (row["image_id"], row["question"]): row["prediction"] for row in base_predictions
    }
    ordered = sorted(
        predictions, key=lambda row: (row["question_type"], row["image_id"], row["question"])
    )
    taken: Counter[tuple[str, bool]] = Counter()
    chosen: list[Example] = []
    for row in ordered:
        correct = bool(int(row["correct"]))  # an int in memory, "0"/"1" read back from CSV
        slot = (row["question_type"], correct)
        if taken[slot] >= per_type:
            continue
        taken[slot] += 1
        chosen.append(
            Example(
                image_id=row["image_id"],
                question_type=row["question_type"],
                question=row["question"],
                reference=row["answer"],
                raw_prediction=row["raw_prediction"],
                prediction=row["prediction"],
                correct=correct,
                base_prediction=base_answer.get((row["image_id"], row["question"])),
            )
        )
    return sorted(chosen, key=lambda e: (e.question_type, not e.correct, e.image_id, e.question))
