"""Human-readable comparison of every evaluated model (markdown, a final_eval output)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TABLE_METRICS: tuple[str, ...] = ("exact_match", "token_f1")


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
