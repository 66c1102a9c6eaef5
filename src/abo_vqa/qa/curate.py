"""The generate_qa stage's work between reading the listings and writing its outputs.

Curation, then verification, under one `Budget`, then the QA table. A run that stops early
(the budget reached, every key dropped, the server out of reach, batch jobs still pending)
still yields a table of what it obtained: `Curation.stopped` says why, and the stage writes the
outputs before it fails, so that nothing obtained is lost and `dvc repro` does not record the
stage as done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abo_vqa.params import Params
from abo_vqa.qa.dataset import QATable, build_qa_table
from abo_vqa.qa.providers import make_provider
from abo_vqa.qa.remote.budget import Budget
from abo_vqa.qa.remote.errors import BudgetExhaustedError, CurationStopped
from abo_vqa.qa.verify import apply_verification


@dataclass
class Curation:
    """What a generate_qa run produced, and why it stopped early if it did."""

    table: QATable
    provider: str
    budget: Budget
    stopped: list[CurationStopped] = field(default_factory=list)


def curate(params: Params, listings: Sequence[Mapping[str, Any]], images_root: Path) -> Curation:
    """Curate, verify and tabulate (see the module docstring)."""
    gq = params.generate_qa
    budget = Budget(gq.max_cost_usd)
    provider = make_provider(gq, images_root, budget)
    stopped: list[CurationStopped] = []
    try:
        run = provider.run(listings)
    except CurationStopped as error:
        run, stopped = error.partial, [error]
    run, verification = apply_verification(
        params, listings, run, provider.name, images_root, budget=budget, ask=not stopped
    )
    if verification is not None and verification.stopped is not None:
        stopped.append(verification.stopped)
    table = build_qa_table(
        listings,
        run,
        provider=provider.name,
        question_types=gq.question_types,
        drop_unrequested_types=gq.drop_unrequested_types,
    )
    if verification is not None:
        table.metrics["verification"] = verification.metrics()
    if budget.accounts or gq.max_cost_usd is not None:
        table.metrics["spend"] = budget.metrics()
    return Curation(table, provider.name, budget, stopped)


def stop_line(curation: Curation, images: int) -> str:
    """The one line a stopped run ends with: why, how many images were curated, what was spent,
    and how to go on."""
    budget = curation.budget
    curated = curation.table.metrics["images_with_qa"]
    if any(isinstance(stop, BudgetExhaustedError) for stop in curation.stopped):
        return (
            f"stopped at generate_qa.max_cost_usd ${budget.limit_usd:g}: {curated} of {images} "
            f"images curated, ${budget.spent_usd:.6f} spent by this run; everything obtained is "
            f"kept (stored responses, a partial qa.csv and its metrics): rerun with a larger "
            f"budget to ask only for the rest"
        )
    first = curation.stopped[0]
    return (
        f"{first} ({curated} of {images} images curated, ${budget.spent_usd:.6f} spent by this "
        f"run; a partial qa.csv and its metrics are written)"
    )
