"""From provider output to the QA table: validation, row layout and the stage's counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from abo_vqa.qa.base import ProviderRun
from abo_vqa.qa.validate import validate_pairs


def build_qa_rows(
    listings: Sequence[Mapping[str, Any]],
    run: ProviderRun,
    *,
    provider: str,
    question_types: Sequence[str],
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Validate every image's candidate pairs and lay them out as QA rows (QA_COLUMNS).

    Rows follow the listings' order, then each image's pair order, so the table is a pure function
    of the listings and the provider's (cached) responses. Returns the rows and the metrics dict.
    """
    rows: list[dict[str, str]] = []
    rejected: Counter[str] = Counter(run.rejected)
    candidates = 0
    images_with_qa = 0
    for listing in listings:
        pairs = run.pairs_by_image.get(listing["image_id"], [])
        candidates += len(pairs)
        accepted, reasons = validate_pairs(pairs, question_types)
        rejected.update(reasons)
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
    metrics = {
        "provider": provider,
        "images": len(listings),
        "images_with_qa": images_with_qa,
        "candidates": candidates,
        "pairs": len(rows),
        "pairs_by_type": {t: by_type.get(t, 0) for t in question_types},
        "rejected": dict(sorted(rejected.items())),
        "provider_stats": dict(sorted(run.stats.items())),
    }
    return rows, metrics
