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
from abo_vqa.paired import PairedSettings, no_difference

TABLE_METRICS: tuple[str, ...] = ("exact_match", "token_f1")

OTHER_ANSWER = "(other)"
"""The confusion plot's name for every prediction outside the most frequent answers."""


def _cell(summary: Mapping[str, Any], metric: str) -> str:
    value = summary.get(metric)
    if isinstance(value, Mapping) and "mean" in value:
        return f"{100 * value['mean']:.1f}"
    skipped = summary.get("skipped", {}).get(metric)
    return "skipped" if skipped else "–"


def question_type_counts(
    summaries: Mapping[str, Mapping[str, Any]], names: Sequence[str]
) -> list[tuple[str, int]]:
    """Every question type any of the named models was scored on, with its number of questions,
    most questions first (then by name). Types are whatever the data holds (open vocabulary)."""
    counts: dict[str, int] = {}
    for name in names:
        for question_type, scores in summaries[name].get("by_type", {}).items():
            counts[question_type] = max(counts.get(question_type, 0), int(scores.get("n", 0)))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _type_cell(summary: Mapping[str, Any], question_type: str) -> str:
    scores = summary.get("by_type", {}).get(question_type, {})
    return f"{100 * scores['exact_match']:.1f}" if "exact_match" in scores else "–"


def comparison_markdown(
    summaries: Mapping[str, Mapping[str, Any]],
    *,
    order: Sequence[str],
    metrics: Sequence[str] = TABLE_METRICS,
    quantization: Mapping[str, Any] | None = None,
    significance: Significance | None = None,
) -> str:
    """A markdown report: overall metrics per model, then exact match per question type, then
    (given `significance`) the paired comparisons and the vision dependence, then (given the
    quantize stage's metrics) the quantization trade-off."""
    names = [name for name in order if name in summaries]
    lines = [
        "# Evaluation on the test split",
        "",
        "Scores in percent. " + ", ".join(f"`{m}`" for m in metrics) + ".",
        "",
    ]
    rows = [
        [name, str(summaries[name].get("n", "")), *(_cell(summaries[name], m) for m in metrics)]
        for name in names
    ]
    lines += markdown_table(["model", "n", *metrics], rows, words=0)

    types = question_type_counts(summaries, names)
    if types:
        lines += [
            "",
            "## Exact match per question type",
            "",
            "Every question type of the test split, most questions first; n: its questions.",
            "",
        ]
        rows = [
            [question_type, str(count), *(_type_cell(summaries[n], question_type) for n in names)]
            for question_type, count in types
        ]
        lines += markdown_table(["question type", "n", *names], rows, words=0)
    if significance is not None:
        lines += ["", paired_markdown(significance.paired, significance.settings).rstrip("\n")]
        if significance.vision is not None:
            vision = vision_markdown(significance.vision, significance.settings)
            lines += ["", vision.rstrip("\n")]
    if quantization is not None:
        lines += ["", quantization_markdown(quantization).rstrip("\n")]
    return "\n".join(lines) + "\n"


# --- paired comparisons and vision dependence ----------------------------------------------------


@dataclass(frozen=True)
class Significance:
    """What the reports say about differences between models: the paired comparisons (metrics
    JSON `paired`), the vision dependence (`vision_dependence`, None when not measured) and the
    settings they were computed with."""

    paired: Mapping[str, Mapping[str, Any]]
    vision: Mapping[str, Any] | None
    settings: PairedSettings


BORDERLINE_MARK = "†"


def percent_level(confidence: float) -> str:
    """A confidence level as the reports write it: 0.95 -> "95%"."""
    return f"{100 * confidence:g}%"


def signed_points(fraction: float) -> str:
    """A difference of two fractions, in percentage points with its sign: +11.4 (and +0.0,
    never -0.0)."""
    points = round(100 * fraction, 1)
    return f"{points or 0.0:+.1f}"


def p_value_text(p_value: float) -> str:
    return "< 0.001" if p_value < 0.001 else f"{p_value:.3f}"


def comparison_cells(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """One paired comparison as table cells: n, both exact matches (%), the difference (points),
    its interval, the McNemar p-value and the verdict (BORDERLINE_MARK when borderline)."""
    mark = f" {BORDERLINE_MARK}" if entry.get("borderline") else ""
    return (
        str(entry["n"]),
        f"{100 * entry['a_exact_match']:.1f}",
        f"{100 * entry['b_exact_match']:.1f}",
        signed_points(entry["delta"]),
        f"{signed_points(entry['ci_low'])} to {signed_points(entry['ci_high'])}",
        p_value_text(entry["p_value"]),
        entry["verdict"] + mark,
    )


def by_type_order(entry: Mapping[str, Any]) -> list[str]:
    """A comparison's question types, most questions first (then by name)."""
    by_type = entry.get("by_type", {})
    return sorted(by_type, key=lambda kind: (-by_type[kind]["n"], kind))


def paired_caption(settings: PairedSettings) -> str:
    """How the paired comparisons are computed and read, in plain text (every report says it)."""
    level = percent_level(settings.confidence)
    alpha = f"{1 - settings.confidence:.3g}"
    return (
        "Two models scored on the same test questions. Difference: exact match of the first "
        f"minus the second, in percentage points; {level} interval from a bootstrap that "
        "resamples images, all questions of an image together "
        f"({settings.samples} resamples); p: exact McNemar test (two-sided binomial test on the "
        "questions exactly one of the two answers correctly). Verdict: “better” or “worse” "
        f"(the first against the second) only when the interval excludes zero and p < {alpha}; "
        f"otherwise “{no_difference(settings.confidence)}”, marked {BORDERLINE_MARK} when the "
        "interval and the test disagree (a borderline case)."
    )


COMPARISON_HEADINGS: tuple[str, ...] = (
    "n",
    "first (%)",
    "second (%)",
    "difference (points)",
    "interval",
    "p (McNemar)",
    "verdict",
)
"""Headings of `comparison_cells`; "interval" is preceded by its level in the tables."""


def comparison_headings(settings: PairedSettings, first: str, second: str) -> list[str]:
    """COMPARISON_HEADINGS with the two models' names and the interval's level filled in."""
    level = percent_level(settings.confidence)
    renamed = {"first (%)": first, "second (%)": second, "interval": f"{level} interval"}
    return [renamed.get(heading, heading) for heading in COMPARISON_HEADINGS]


def markdown_table(
    headings: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1, words: int = 1
) -> list[str]:
    """A markdown table whose first `left` and last `words` columns are text (left-aligned)
    and the others figures (right-aligned); a `|` in a cell is escaped."""
    figures = len(headings) - left - words
    lines = [
        "| " + " | ".join(headings) + " |",
        "|" + "---|" * left + "---:|" * figures + "---|" * words,
    ]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def paired_markdown(
    paired: Mapping[str, Mapping[str, Any]],
    settings: PairedSettings,
    *,
    heading: str = "## Paired comparisons",
) -> str:
    """The paired comparisons: one row per pair overall, then a table per pair with a row per
    question type (most questions first)."""
    lines = [heading, "", paired_caption(settings), ""]
    if not paired:
        return "\n".join([*lines, "No two models were scored on the same questions."]) + "\n"
    overall = [(e["a"], e["b"], *comparison_cells(e)) for e in paired.values()]
    lines += markdown_table(
        ["first", "second", *comparison_headings(settings, "first (%)", "second (%)")],
        overall,
        left=2,
    )
    for entry in paired.values():
        rows = [(kind, *comparison_cells(entry["by_type"][kind])) for kind in by_type_order(entry)]
        lines += [
            "",
            f"{heading.split()[0]}# {entry['a']} against {entry['b']}, per question type",
            "",
        ]
        lines += markdown_table(
            ["question type", *comparison_headings(settings, entry["a"], entry["b"])], rows
        )
    return "\n".join(lines) + "\n"


def vision_summary(vision: Mapping[str, Any], label: str | None = None) -> str:
    """The vision dependence in sentences: the blind model's score, the correct answers that
    survive without the image, and the flagged question types. `label`: what to call the model
    (default: its name)."""
    kept = vision.get("correct_without_image")
    kept_text = (
        f" {100 * kept:.1f}% of the questions it answers correctly with the image are still right "
        "without it."
        if kept is not None
        else ""
    )
    flagged = vision.get("answerable_without_looking") or []
    flagged_text = (
        "Answerable without looking: " + ", ".join(flagged) + "."
        if flagged
        else "No question type is answerable without looking."
    )
    return (
        f"With blank images the {label or vision['a']} model still answers "
        f"{100 * vision['b_exact_match']:.1f}% of the {vision['n']} test questions correctly "
        f"(with the images: {100 * vision['a_exact_match']:.1f}%; gain "
        f"{signed_points(vision['delta'])} points: {vision['image_use']}).{kept_text} "
        f"{flagged_text}"
    )


def vision_caption(vision: Mapping[str, Any], label: str | None = None) -> str:
    """How the vision dependence is measured and labelled, in plain text."""
    min_gain = f"{100 * vision['min_gain']:g}"
    return (
        f"The {label or vision['a']} model again, each image replaced by a blank one of the same "
        "size in the image's mean colour. Gain: exact match with the real images minus with the "
        "blank ones, tested like the paired comparisons. Image: “uses the image” when the gain is "
        f"significantly above zero; “answerable without looking” when it is not and below "
        f"{min_gain} points; “inconclusive” when it is not significant but {min_gain} points or "
        "more. Kept blind: of the questions right with the image, the share still right without."
    )


def vision_rows(vision: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Rows of the vision dependence table (`vision_headings`): "all", then each question type
    (most questions first); the last two cells are the verdict and the image-use label."""
    entries = [("all", vision)] + [(k, vision["by_type"][k]) for k in by_type_order(vision)]
    rows = []
    for name, entry in entries:
        *figures, said = comparison_cells(entry)
        share = entry.get("correct_without_image")
        kept = "–" if share is None else f"{100 * share:.1f}"
        rows.append((name, *figures, kept, said, entry["image_use"]))
    return rows


def vision_headings(settings: PairedSettings) -> list[str]:
    *figures, said = comparison_headings(settings, "real images (%)", "blank images (%)")
    gain = [heading.replace("difference", "gain") for heading in figures]
    return ["question type", *gain, "kept blind (%)", said, "image"]


def vision_markdown(vision: Mapping[str, Any], settings: PairedSettings) -> str:
    """The vision dependence section: what blank images cost the model, overall and per type."""
    lines = [
        f"## Does the {vision['a']} model look at the image?",
        "",
        vision_caption(vision),
        "",
        vision_summary(vision),
        "",
        *markdown_table(vision_headings(settings), vision_rows(vision), words=2),
    ]
    return "\n".join(lines) + "\n"


# --- quantization trade-off -----------------------------------------------------------------------

QUANTIZATION_ORDER: tuple[str, ...] = ("none", "bf16", "int8", "nf4", "fp4")
"""Row order of the trade-off table: the unquantized reference, then fewer and fewer bits."""

EXACT_COLUMNS: tuple[str, ...] = (
    "variant",
    "weights (MB)",
    "vs merged",
    "memory (MB)",
    "exact match (%)",
    "change (points)",
    "answers as the adapter's",
)
"""Columns of the trade-off table that every run of the same code and data reproduces."""
RUN_DEPENDENT_COLUMNS: tuple[str, ...] = (
    "peak memory (MB)",
    "latency median (s)",
    "latency min–max (s)",
    "latency vs none",
)
"""Columns measured on the machine while the stage ran (wall time, resident memory): unlike
everything else in the reports, they vary from run to run. Shown only when the quantize stage
timed the variants (`quantize.latency_rounds` > 0)."""


def quantization_columns(quantize_metrics: Mapping[str, Any]) -> tuple[str, ...]:
    """The trade-off table's columns: the exact ones, then the timed ones if there are any."""
    timed = bool(quantize_metrics.get("latency_rounds"))
    return EXACT_COLUMNS + (RUN_DEPENDENT_COLUMNS if timed else ())


CHOSEN_MARK = "evaluated"
"""Marks the variant final_eval evaluates as the "quantized" model (`quantize.method`)."""


@dataclass(frozen=True)
class VariantRow:
    """One variant of the trade-off table: a cell per column after the name, or why it has none."""

    method: str
    chosen: bool
    cells: tuple[str, ...]
    reason: str | None = None
    """"failed: …" or "skipped: …" when the variant has no figures (then `cells` is empty)."""


def _figure(
    result: Mapping[str, Any], key: str, form: str, *, scale: float = 1.0, suffix: str = ""
) -> str:
    value = result.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    return format(scale * value, form) + suffix


def _variant_row(
    method: str, result: Mapping[str, Any], *, chosen: bool, questions: int | None, timed: bool
) -> VariantRow:
    for key, outcome in (("error", "failed"), ("skipped", "skipped")):
        if result.get(key):
            return VariantRow(method, chosen, (), reason=f"{outcome}: {result[key]}")
    agree = result.get("agreement_with_adapter")
    cells = (
        _figure(result, "weight_bytes", ".2f", scale=1e-6),
        _figure(result, "size_ratio", ".2f", suffix="×"),
        _figure(result, "memory_footprint_bytes", ".2f", scale=1e-6),
        _figure(result, "exact_match", ".1f", scale=100),
        _figure(result, "exact_match_change", "+.1f", scale=100),
        "–" if agree is None else f"{agree} of {questions}" if questions else str(agree),
    )
    if timed:
        low, high = (
            _figure(result, k, ".3g") for k in ("batch_latency_min_s", "batch_latency_max_s")
        )
        cells += (
            _figure(result, "peak_memory_bytes", ".2f", scale=1e-6),
            _figure(result, "batch_latency_median_s", ".3g"),
            "–" if "–" in (low, high) else f"{low}–{high}",
            _figure(result, "batch_latency_ratio_to_none", ".2f", suffix="×"),
        )
    return VariantRow(method, chosen, cells)


def quantization_rows(quantize_metrics: Mapping[str, Any]) -> list[VariantRow]:
    """The quantize stage's variants as table rows, in QUANTIZATION_ORDER (others after it)."""
    variants = quantize_metrics.get("variants", {})
    known = [m for m in QUANTIZATION_ORDER if m in variants]
    ordered = known + sorted(set(variants) - set(known))
    chosen = quantize_metrics.get("method")
    questions = quantize_metrics.get("test_questions")
    timed = bool(quantize_metrics.get("latency_rounds"))
    return [
        _variant_row(m, variants[m], chosen=m == chosen, questions=questions, timed=timed)
        for m in ordered
    ]


def quantization_caption(quantize_metrics: Mapping[str, Any]) -> str:
    """What the trade-off table's figures are, in plain text (both reports show it)."""
    double = " (4-bit with double quantization)" if quantize_metrics.get("double_quant") else ""
    exact = (
        f"Variants of the merged fine-tuned model{double}. Weights: the saved weight files, and "
        "their size against the merged model; memory: the loaded model's footprint. Exact match: "
        "on the whole test split, with its change in points against the unquantized model. "
        "Answers as the adapter's: test answers identical to the fine-tuned adapter's (a merge "
        "must keep all of them; quantization may change a few). "
        f"“{CHOSEN_MARK}”: the variant scored as “quantized” above (quantize.method)."
    )
    batch = quantize_metrics.get("latency_batch_size")
    rounds = quantize_metrics.get("latency_rounds")
    if not rounds:
        return (
            exact + " Latency and peak memory were not measured (quantize.latency_rounds: 0): "
            "they differ between machines and runs, and would make the pipeline's results differ "
            "from machine to machine; set quantize.latency_rounds to measure them."
        )
    device = quantize_metrics.get("timing_device", "the machine that ran the stage")
    return exact + (
        " Peak memory: the most memory loading the variant and scoring the test split added to "
        "the process (resident set on a CPU, the allocator's peak on a GPU). Latency: wall time "
        f"on {device} of one batch of {batch} test questions over {rounds} rounds after a "
        "warm-up, the variants taking turns in each round so that load from other jobs hits all "
        "alike: median, min–max, and the median per-round ratio to the unquantized model "
        "(compare rows, not runs)."
    )


def quantization_markdown(quantize_metrics: Mapping[str, Any]) -> str:
    """The trade-off section of the markdown report: one row per variant, the chosen one marked
    and a failed or skipped variant shown with its reason."""
    rows = quantization_rows(quantize_metrics)
    lines = ["## Quantization trade-off", "", quantization_caption(quantize_metrics), ""]
    if not rows:
        return "\n".join([*lines, "No variants were measured."]) + "\n"
    columns = quantization_columns(quantize_metrics)
    table_rows = []
    for row in rows:
        name = f"**{row.method}** ({CHOSEN_MARK})" if row.chosen else row.method
        if row.reason is not None:
            table_rows.append([name, " ".join(row.reason.split())] + ["–"] * (len(columns) - 2))
        else:
            table_rows.append([name, *row.cells])
    lines += markdown_table(columns, table_rows, words=0)
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
    """One model's exact match per question type (most questions first, as in the reports)."""
    by_type = summary.get("by_type", {})
    rows = tuple(
        {"question_type": t, "exact_match": by_type[t]["exact_match"], "n": by_type[t]["n"]}
        for t, _ in question_type_counts({"model": summary}, ["model"])
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
