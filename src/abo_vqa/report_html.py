"""The evaluation report as one self-contained HTML page (a final_eval output).

No scripts, no network: CSS is inline, charts are SVG drawn here, images are small JPEG thumbnails
in data URIs. The page is a pure function of its inputs (no timestamps, no paths of this machine),
so the same evaluation gives the same bytes and DVC sees no change when nothing changed. The one
exception, shown only when the quantize stage timed its variants, is their latency and peak
memory, measured on the machine that ran it (cells of class "run-dependent").
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from itertools import groupby
from typing import Any

from PIL import Image

from abo_vqa.metrics.catalog import METRIC_NAMES, METRICS_BY_NAME
from abo_vqa.paired import BETTER, WORSE, PairedSettings
from abo_vqa.report import (
    CHOSEN_MARK,
    COMPARISON_HEADINGS,
    RUN_DEPENDENT_COLUMNS,
    Example,
    Significance,
    by_type_order,
    comparison_cells,
    comparison_headings,
    paired_caption,
    quantization_caption,
    quantization_columns,
    quantization_rows,
    question_type_counts,
    vision_caption,
    vision_headings,
    vision_rows,
    vision_summary,
)
from abo_vqa.vision import USES_IMAGE, WITHOUT_LOOKING

MODEL_LABELS: dict[str, str] = {
    "prior": "prior",
    "question_only": "question only",
    "base": "base (zero-shot)",
    "finetuned": "fine-tuned",
    "quantized": "quantized",
}
MODEL_DESCRIPTIONS: dict[str, str] = {
    "prior": "the most frequent train answer of the question's type, blind to image and wording",
    "question_only": "a bag-of-words classifier from question text to answer, blind to the image",
    "base": "the base model, zero-shot",
    "finetuned": "the base model with the LoRA adapter",
    "quantized": "the merged fine-tuned model, quantized",
}
MODEL_COLORS: dict[str, str] = {
    "prior": "#9a9a9a",
    "question_only": "#c9a227",
    "base": "#4c78a8",
    "finetuned": "#2f9e62",
    "quantized": "#8e5bb5",
}
_FALLBACK_COLORS = ("#e45756", "#72b7b2", "#ff9da6", "#9d755d")

THUMBNAIL_SIDE = 112
"""Largest side of an example's thumbnail, in pixels (≈3 KB of JPEG each)."""


def model_label(name: str) -> str:
    return MODEL_LABELS.get(name, name)


def model_color(name: str, position: int) -> str:
    """A model's fixed colour; unknown models take fallback colours by their position."""
    return MODEL_COLORS.get(name, _FALLBACK_COLORS[position % len(_FALLBACK_COLORS)])


def thumbnail_data_uri(image: Image.Image, max_side: int = THUMBNAIL_SIDE) -> str:
    """A small JPEG of `image` as a data URI (the same image gives the same string)."""
    thumbnail = image.convert("RGB")
    thumbnail.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# --- SVG bar charts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: a value in [0, 1], optionally with its interval."""

    label: str
    value: float
    color: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class BarGroup:
    label: str
    bars: tuple[Bar, ...]


# Layout of the charts, in SVG user units (pixels at 100% zoom).
_WIDTH, _LABEL_WIDTH, _RIGHT_MARGIN = 960, 170, 70
_BAR_HEIGHT, _BAR_GAP, _GROUP_GAP, _AXIS_HEIGHT = 14, 3, 14, 22


def _x(value: float) -> float:
    """Horizontal position of `value` (a fraction in [0, 1]) on the chart."""
    clamped = min(1.0, max(0.0, value))
    return _LABEL_WIDTH + clamped * (_WIDTH - _LABEL_WIDTH - _RIGHT_MARGIN)


def bar_chart_svg(groups: Sequence[BarGroup], *, title: str) -> str:
    """Grouped horizontal bars of fractions, drawn as percentages on a 0–100% axis.

    A group label sits left of its bars; each bar carries its value at its end and a tooltip;
    bars with `low`/`high` get an interval whisker.
    """
    rows = sum(len(group.bars) for group in groups)
    height = _AXIS_HEIGHT + rows * (_BAR_HEIGHT + _BAR_GAP) + len(groups) * _GROUP_GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = _x(tick)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{_AXIS_HEIGHT - 4}" x2="{x:.1f}" '
            f'y2="{height}"/><text class="tick" x="{x:.1f}" y="{_AXIS_HEIGHT - 8}" '
            f'text-anchor="middle">{100 * tick:.0f}%</text>'
        )
    y = float(_AXIS_HEIGHT + _GROUP_GAP / 2)
    for group in groups:
        group_height = len(group.bars) * (_BAR_HEIGHT + _BAR_GAP) - _BAR_GAP
        parts.append(
            f'<text class="group" x="{_LABEL_WIDTH - 8}" y="{y + group_height / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(group.label)}</text>'
        )
        for bar in group.bars:
            parts.append(_bar_svg(bar, group.label, y))
            y += _BAR_HEIGHT + _BAR_GAP
        y += _GROUP_GAP - _BAR_GAP
    parts.append("</svg>")
    return "\n".join(parts)


def _bar_svg(bar: Bar, group: str, y: float) -> str:
    x0, x1 = _x(0.0), _x(bar.value)
    middle = y + _BAR_HEIGHT / 2
    tooltip = f"{bar.label} · {group}: {100 * bar.value:.1f}%"
    if bar.low is not None and bar.high is not None:
        tooltip += f" (95% interval {100 * bar.low:.1f}–{100 * bar.high:.1f}%)"
    parts = [
        f'<g><title>{escape(tooltip)}</title><rect x="{x0:.1f}" y="{y:.1f}" '
        f'width="{x1 - x0:.1f}" height="{_BAR_HEIGHT}" fill="{bar.color}"/>'
    ]
    label_x = x1
    if bar.low is not None and bar.high is not None:
        low, high = _x(bar.low), _x(bar.high)
        parts.append(
            f'<path class="whisker" d="M{low:.1f} {middle:.1f}H{high:.1f}'
            f"M{low:.1f} {y + 3:.1f}V{y + _BAR_HEIGHT - 3:.1f}"
            f'M{high:.1f} {y + 3:.1f}V{y + _BAR_HEIGHT - 3:.1f}"/>'
        )
        label_x = max(label_x, high)
    parts.append(
        f'<text class="value" x="{label_x + 4:.1f}" y="{middle + 4:.1f}">'
        f"{100 * bar.value:.1f}%</text></g>"
    )
    return "".join(parts)


def _legend(names: Sequence[str]) -> str:
    items = "".join(
        f'<span><i style="background:{model_color(name, i)}"></i>{escape(model_label(name))}</span>'
        for i, name in enumerate(names)
    )
    return f'<div class="legend">{items}</div>'


# --- sections -------------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:.3f}"


def _best(summaries: Sequence[Mapping[str, Any]], metric: str) -> float | None:
    means = [s[metric]["mean"] for s in summaries if isinstance(s.get(metric), Mapping)]
    if len(means) < 2:
        return None  # nothing to compare against
    higher = METRICS_BY_NAME[metric].higher_is_better if metric in METRICS_BY_NAME else True
    return max(means) if higher else min(means)


def _metric_cell(summary: Mapping[str, Any], metric: str, best: float | None) -> str:
    value = summary.get(metric)
    if isinstance(value, Mapping) and "mean" in value:
        css = ' class="best"' if value["mean"] == best else ""
        interval = ""
        if "ci_low" in value and "ci_high" in value:
            interval = (
                f'<span class="ci">{_number(value["ci_low"])}–{_number(value["ci_high"])}</span>'
            )
        return f"<td{css}>{_number(value['mean'])}{interval}</td>"
    reason = summary.get("skipped", {}).get(metric)
    if reason:
        return f'<td class="skipped">skipped: {escape(str(reason))}</td>'
    return '<td class="absent" title="not computed for this model">–</td>'


def metric_table_html(summaries: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> str:
    """Metrics as rows, models as columns; mean and 95% interval, or why a metric was skipped."""
    columns = [summaries[name] for name in names]
    metrics = [m for m in METRIC_NAMES if any(m in s or m in s.get("skipped", {}) for s in columns)]
    head = "".join(f"<th>{escape(model_label(name))}</th>" for name in names)
    rows = ["<tr><th>questions</th>" + "".join(f"<td>{s.get('n', '–')}</td>" for s in columns)]
    for metric in metrics:
        description = METRICS_BY_NAME[metric].description
        reasons = [s.get("skipped", {}).get(metric) for s in columns]
        if all(reasons) and len(set(reasons)) == 1:
            # A scoring model missing offline skips its metric for every model alike: say so once.
            cells = (
                f'<td class="skipped" colspan="{len(columns)}">'
                f"skipped: {escape(str(reasons[0]))}</td>"
            )
        else:
            best = _best(columns, metric)
            cells = "".join(_metric_cell(s, metric, best) for s in columns)
        rows.append(f'<tr><th title="{escape(description)}">{escape(metric)}</th>{cells}</tr>')
    for key, label in (("single_word_rate", "one-word answers"), ("mean_words", "words/answer")):
        cells = "".join(
            f"<td>{_number(s['answer_form'][key])}</td>"
            if key in s.get("answer_form", {})
            else '<td class="absent">–</td>'
            for s in columns
        )
        rows.append(f'<tr class="form"><th>{label}</th>{cells}</tr>')
    glossary = "".join(
        f"<dt>{escape(m)}</dt><dd>{escape(METRICS_BY_NAME[m].description)}</dd>" for m in metrics
    )
    return (
        f'<table class="metrics"><thead><tr><th>metric</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<details><summary>What the metrics measure</summary><dl class="glossary">{glossary}'
        "<dt>one-word answers</dt><dd>share of raw generated answers that are one word</dd>"
        "<dt>words/answer</dt><dd>mean words per raw generated answer</dd></dl></details>"
    )


def overall_chart_html(summaries: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> str:
    """Exact match per model with its 95% interval."""
    bars = [
        BarGroup(
            model_label(name),
            (
                Bar(
                    model_label(name),
                    summaries[name]["exact_match"]["mean"],
                    model_color(name, i),
                    summaries[name]["exact_match"].get("ci_low"),
                    summaries[name]["exact_match"].get("ci_high"),
                ),
            ),
        )
        for i, name in enumerate(names)
        if isinstance(summaries[name].get("exact_match"), Mapping)
    ]
    if not bars:
        return "<p>No model has an exact-match score.</p>"
    return bar_chart_svg(bars, title="Exact match per model, with 95% bootstrap intervals")


def by_type_chart_html(summaries: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> str:
    """Exact match per question type (every type scored, most questions first), one bar per
    model in each type's group."""
    types = question_type_counts(summaries, names)
    if not types:
        return "<p>No per-type scores (the summaries carry no question types).</p>"
    groups = []
    for question_type, count in types:
        bars = tuple(
            Bar(model_label(name), by_type[question_type]["exact_match"], model_color(name, i))
            for i, name in enumerate(names)
            if "exact_match"
            in (by_type := summaries[name].get("by_type", {})).get(question_type, {})
        )
        groups.append(BarGroup(f"{question_type} (n={count})", bars))
    return _legend(names) + bar_chart_svg(groups, title="Exact match per question type")


def _type_cell(scores: Mapping[str, Any], best: float | None) -> str:
    if "exact_match" not in scores:
        return '<td class="absent">–</td>'
    css = ' class="best"' if scores["exact_match"] == best else ""
    return f"<td{css}>{_number(scores['exact_match'])}</td>"


def by_type_table_html(summaries: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> str:
    """Exact match per question type as a table: a row per type with its question count, a
    column per model, the best model of each type in bold."""
    types = question_type_counts(summaries, names)
    if not types:
        return ""
    head = "".join(f"<th>{escape(model_label(name))}</th>" for name in names)
    rows = []
    for question_type, count in types:
        scores = [summaries[name].get("by_type", {}).get(question_type, {}) for name in names]
        values = [s["exact_match"] for s in scores if "exact_match" in s]
        best = max(values) if len(values) > 1 else None
        cells = "".join(_type_cell(s, best) for s in scores)
        rows.append(f"<tr><th>{escape(question_type)}</th><td>{count}</td>{cells}</tr>")
    return (
        f'<table class="metrics by-type"><thead><tr><th>question type</th><th>n</th>{head}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def quantization_table_html(quantize_metrics: Mapping[str, Any]) -> str:
    """The quantization trade-off: one row per variant, the evaluated one marked, a failed or
    skipped variant with its reason. Cells measured on the running machine carry class
    "run-dependent"."""
    rows = quantization_rows(quantize_metrics)
    if not rows:
        return "<p>No quantization variants were measured.</p>"
    columns = quantization_columns(quantize_metrics)
    head = "".join(f"<th>{escape(column)}</th>" for column in columns)
    figure_columns = columns[1:]
    body = []
    for row in rows:
        name = escape(row.method)
        if row.chosen:
            name += f' <span class="tag">{CHOSEN_MARK}</span>'
        if row.reason is not None:
            reason = escape(row.reason)
            cells = f'<td class="skipped" colspan="{len(figure_columns)}">{reason}</td>'
        else:
            cells = "".join(
                f'<td class="run-dependent">{escape(cell)}</td>'
                if column in RUN_DEPENDENT_COLUMNS
                else f"<td>{escape(cell)}</td>"
                for column, cell in zip(figure_columns, row.cells, strict=True)
            )
        css = ' class="chosen"' if row.chosen else ""
        body.append(f"<tr{css}><th>{name}</th>{cells}</tr>")
    return (
        f'<table class="metrics quantization"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _verdict_class(text: str) -> str:
    """CSS class of a verdict or image-use cell: what the colour should say."""
    if text.startswith((BETTER, USES_IMAGE)):
        return "verdict up"
    if text.startswith((WORSE, WITHOUT_LOOKING)):
        return "verdict down"
    return "verdict"


def _comparison_table(
    headings: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]], *, marked: int
) -> str:
    """A table of paired comparisons: a header cell and figure cells per row; the cells from
    position `marked` on (verdicts, labels) are text, coloured by what they say."""
    head = "".join(f"<th>{escape(heading)}</th>" for heading in headings)
    body = []
    for name, cells in rows:
        figures = "".join(f"<td>{escape(cell)}</td>" for cell in cells[:marked])
        words = "".join(
            f'<td class="{_verdict_class(cell)}">{escape(cell)}</td>' for cell in cells[marked:]
        )
        body.append(f"<tr><th>{name}</th>{figures}{words}</tr>")
    return (
        f'<table class="metrics paired"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def paired_tables_html(paired: Mapping[str, Mapping[str, Any]], settings: PairedSettings) -> str:
    """The paired comparisons: one row per pair, then per pair a row per question type."""
    if not paired:
        return "<p>No two models were scored on the same questions.</p>"
    verdict_at = len(COMPARISON_HEADINGS) - 1
    overall = [
        (
            f'{escape(model_label(e["a"]))} <span class="vs">against</span> '
            f"{escape(model_label(e['b']))}",
            comparison_cells(e),
        )
        for e in paired.values()
    ]
    parts = [
        _comparison_table(
            ["models", *comparison_headings(settings, "first (%)", "second (%)")],
            overall,
            marked=verdict_at,
        )
    ]
    for entry in paired.values():
        first, second = model_label(entry["a"]), model_label(entry["b"])
        rows = [
            (escape(kind), comparison_cells(entry["by_type"][kind]))
            for kind in by_type_order(entry)
        ]
        parts.append(f"<h3>{escape(first)} against {escape(second)}, per question type</h3>")
        parts.append(
            _comparison_table(
                ["question type", *comparison_headings(settings, first, second)],
                rows,
                marked=verdict_at,
            )
        )
    return "".join(parts)


def vision_table_html(vision: Mapping[str, Any], settings: PairedSettings) -> str:
    """The vision dependence: the summary sentences, then gain per question type."""
    rows = [(escape(row[0]), row[1:]) for row in vision_rows(vision)]
    table = _comparison_table(vision_headings(settings), rows, marked=len(COMPARISON_HEADINGS))
    summary = vision_summary(vision, model_label(vision["a"]))
    return f'<p class="lead">{escape(summary)}</p>{table}'


def significance_html(significance: Significance) -> str:
    """The sections of the paired comparisons and, when measured, the vision dependence."""
    parts = [
        "<h2>Paired comparisons</h2>",
        f'<p class="lead">{escape(paired_caption(significance.settings))}</p>',
        paired_tables_html(significance.paired, significance.settings),
    ]
    vision = significance.vision
    if vision is not None:
        label = model_label(vision["a"])
        parts += [
            f"<h2>Does the {escape(label)} model look at the image?</h2>",
            f'<p class="lead">{escape(vision_caption(vision, label))}</p>',
            vision_table_html(vision, significance.settings),
        ]
    return "".join(parts)


def _example_card(example: Example, thumbnails: Mapping[str, str]) -> str:
    uri = thumbnails.get(example.image_id)
    picture = (
        f'<img src="{uri}" alt="image {escape(example.image_id)}">'
        if uri
        else '<div class="noimage">no image</div>'
    )
    verdict = "✓" if example.correct else "✗"
    said = ""  # the raw text, when post-processing changed it
    if not example.raw_prediction.strip():
        said = '<div class="raw">generated nothing</div>'
    elif example.raw_prediction.strip().lower() != example.prediction:
        said = f'<div class="raw">generated “{escape(example.raw_prediction)}”</div>'
    base = "–" if example.base_prediction is None else example.base_prediction
    state = "correct" if example.correct else "wrong"
    return (
        f'<figure class="example {state}">{picture}<figcaption>'
        f'<div class="question">{escape(example.question)}</div>'
        f"<div><b>reference</b> {escape(example.reference)}</div>"
        f'<div><b>fine-tuned</b> <span class="verdict">{verdict}</span> '
        f"{escape(example.prediction)}</div>{said}"
        f'<div class="base"><b>base</b> {escape(base)}</div>'
        f'<div class="id">{escape(example.image_id)}</div></figcaption></figure>'
    )


def examples_html(examples: Sequence[Example], thumbnails: Mapping[str, str]) -> str:
    """Cards of sample questions grouped by question type, correct ones first."""
    if not examples:
        return "<p>No examples.</p>"
    sections = []
    for question_type, group in groupby(examples, key=lambda e: e.question_type):
        cards = "".join(_example_card(example, thumbnails) for example in group)
        sections.append(f'<h3>{escape(question_type)}</h3><div class="examples">{cards}</div>')
    return "".join(sections)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:#1d1d1f;margin:0 auto;max-width:1100px;padding:24px 32px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;
border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:20px 0 8px}
.lead{color:#555;margin:0 0 12px}dl.context{display:grid;grid-template-columns:max-content auto;
gap:2px 16px;margin:8px 0}dl.context dt{color:#666}dl.context dd{margin:0}
table.metrics{border-collapse:collapse;margin:8px 0}
table.metrics th,table.metrics td{border-bottom:1px solid #e4e4e4;padding:5px 12px;
text-align:right;vertical-align:top}
table.metrics th:first-child{text-align:left;font-weight:600}
table.metrics thead th{border-bottom:2px solid #bbb;white-space:nowrap}
table.metrics td.best{font-weight:700}
table.metrics .ci{display:block;font-size:11px;color:#777;font-weight:400;white-space:nowrap}
table.metrics td.skipped{color:#a15c00;font-size:12px;text-align:left;max-width:190px}
table.metrics td.skipped[colspan]{max-width:none}
table.metrics td.absent{color:#aaa}table.metrics tr.form{color:#555}
details{margin:8px 0;color:#444}dl.glossary dt{font-weight:600;margin-top:4px}
dl.glossary dd{margin:0 0 0 16px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:6px 0 4px 170px;font-size:13px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px}
svg.chart{display:block;max-width:100%;height:auto;font-size:12px}
svg.chart .grid{stroke:#e6e6e6}svg.chart .tick{fill:#888;font-size:11px}
svg.chart .group{fill:#333}svg.chart .value{fill:#333;font-size:11px}
svg.chart .whisker{stroke:#222;stroke-width:1.2;fill:none}
.examples{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
figure.example{display:flex;gap:10px;margin:0;padding:8px;border:1px solid #e2e2e2;
border-left:4px solid;border-radius:4px;background:#fafafa;font-size:13px}
figure.correct{border-left-color:#2f9e62}figure.wrong{border-left-color:#d64541}
figure.example img,figure.example .noimage{width:112px;height:112px;object-fit:contain;
flex:none;background:#fff;border:1px solid #eee}
.noimage{display:flex;align-items:center;justify-content:center;color:#aaa}
figcaption{min-width:0;overflow-wrap:anywhere}.question{font-style:italic;margin-bottom:4px}
figure.correct .verdict{color:#2f9e62}figure.wrong .verdict{color:#d64541}
.raw,.id{color:#777;font-size:11px}.base{color:#4c78a8}
table.quantization th,table.quantization td{padding:5px 9px}
table.quantization thead th{white-space:normal;vertical-align:bottom}
table.quantization tbody th{white-space:nowrap}table.quantization tr.chosen{background:#f4eef9}
table.paired td.verdict{text-align:left;white-space:nowrap;color:#555}
table.paired td.up{color:#1f7a4a;font-weight:600}table.paired td.down{color:#b03a2e;font-weight:600}
table.paired .vs{font-weight:400;color:#777}
table.quantization .tag{font-size:11px;font-weight:400;color:#fff;background:#8e5bb5;
border-radius:3px;padding:0 4px;margin-left:4px}
"""


def evaluation_html(
    summaries: Mapping[str, Mapping[str, Any]],
    *,
    order: Sequence[str],
    examples: Sequence[Example],
    thumbnails: Mapping[str, str],
    context: Mapping[str, str] | None = None,
    quantization: Mapping[str, Any] | None = None,
    significance: Significance | None = None,
) -> str:
    """The whole report page.

    `summaries`: model name -> metrics summary (the Scorer's format), shown in `order` (names
    absent from `summaries` are left out). `examples`: fine-tuned answers to show, grouped by
    question type in the given order; `thumbnails`: image_id -> data URI (see
    `thumbnail_data_uri`). `context`: label -> value lines shown under the title.
    `quantization`: the quantize stage's metrics, shown as the trade-off table when given.
    `significance`: the paired comparisons and vision dependence, shown when given.
    """
    names = [name for name in order if name in summaries]
    context_html = ""
    if context:
        context_html = (
            '<dl class="context">'
            + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in context.items())
            + "</dl>"
        )
    models = "".join(
        f"<li><b>{escape(model_label(name))}</b>: {escape(MODEL_DESCRIPTIONS.get(name, name))}</li>"
        for name in names
    )
    quantization_html = ""
    if quantization is not None:
        quantization_html = (
            "<h2>Quantization trade-off</h2>"
            f'<p class="lead">{escape(quantization_caption(quantization))}</p>'
            + quantization_table_html(quantization)
        )
    body = [
        "<h1>abo-vqa — evaluation on the test split</h1>",
        context_html,
        f"<ul>{models}</ul>",
        "<h2>Scores</h2>",
        '<p class="lead">Mean over the test questions; below it the 95% bootstrap interval. '
        "Bold: the best model on that metric. A metric whose scoring model was unavailable is "
        "shown as skipped, with the reason.</p>",
        metric_table_html(summaries, names),
        "<h2>Exact match</h2>",
        overall_chart_html(summaries, names),
        "<h2>Exact match per question type</h2>",
        '<p class="lead">Every question type of the test split, most questions first; n: its '
        "questions.</p>",
        by_type_chart_html(summaries, names),
        by_type_table_html(summaries, names),
        significance_html(significance) if significance is not None else "",
        quantization_html,
        "<h2>Sample answers of the fine-tuned model</h2>",
        '<p class="lead">Per question type, the first correct (green) and the first wrong '
        "(red) answers in a fixed order (by image id, then question), each with the base "
        "model's answer to the same question.</p>",
        examples_html(examples, thumbnails),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>abo-vqa evaluation</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )
