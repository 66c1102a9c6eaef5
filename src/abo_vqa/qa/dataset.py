"""From provider output to the QA table: validation, row layout, dropped pairs and counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from abo_vqa.qa.base import ProviderRun, RejectedPair
from abo_vqa.qa.validate import sort_pairs


@dataclass(frozen=True)
class QATable:
    """The stage's result: the kept rows (QA_COLUMNS), every dropped pair, and the metrics."""

    rows: list[dict[str, str]]
    rejected: list[RejectedPair]
    metrics: dict[str, Any]


def build_qa_table(
    listings: Sequence[Mapping[str, Any]],
    run: ProviderRun,
    *,
    provider: str,
    question_types: Sequence[str],
    drop_unrequested_types: bool = False,
) -> QATable:
    """Validate every image's candidate pairs and lay them out as QA rows (QA_COLUMNS).

    Rows follow the listings' order, then each image's pair order, so the table is a pure function
    of the listings and the provider's (cached) responses. Every type a provider brings is kept;
    `question_types` only says what providers were asked for, unless `drop_unrequested_types`
    drops the others (reason ``type_not_requested``). The dropped pairs are the provider's own
    (`run.rejected_pairs`, whole images included) followed by validation's, in the listings'
    order; `metrics["rejected"]` counts exactly those rows per reason.
    """
    rows: list[dict[str, str]] = []
    rejected: list[RejectedPair] = list(run.rejected_pairs)
    allowed = question_types if drop_unrequested_types else None
    candidates = 0
    images_with_qa = 0
    for listing in listings:
        pairs = run.pairs_by_image.get(listing["image_id"], [])
        candidates += len(pairs)
        accepted, dropped = sort_pairs(pairs, allowed)
        for pair, reason in dropped:
            rejected.append(
                RejectedPair.from_pair(
                    reason,
                    pair,
                    image_id=listing["image_id"],
                    image=listing["image_path"],
                    provider=provider,
                )
            )
        images_with_qa += bool(accepted)
        rows.extend(
            {
                "image_id": listing["image_id"],
                "item_id": listing["item_id"],
                "image_path": listing["image_path"],
                "question": pair.question,
                "answer": pair.answer,
                "question_type": pair.question_type,
                "provider": provider,
            }
            for pair in accepted
        )
    by_type = Counter(row["question_type"] for row in rows)
    # Counted from the rows themselves: the log's "N dropped" is rejected.csv's row count.
    counts = Counter(rejection.reason for rejection in rejected)
    metrics = {
        "provider": provider,
        "images": len(listings),
        "images_with_qa": images_with_qa,
        "candidates": candidates,
        "pairs": len(rows),
        "pairs_by_type": dict(sorted(by_type.items())),
        "rejected": dict(sorted(counts.items())),
        "provider_stats": dict(sorted(run.stats.items())),
    }
    return QATable(rows, rejected, metrics)


def build_qa_rows(
    listings: Sequence[Mapping[str, Any]], run: ProviderRun, **options: Any
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The rows and metrics of `build_qa_table`, which takes the same arguments (for callers
    that need no rejected pairs)."""
    table = build_qa_table(listings, run, **options)
    return table.rows, table.metrics
