"""From stored responses to candidate pairs, every loss with its reason: a pure function of the
store, the jobs and the params.

An image's response yields its pairs (cut to `questions_per_image`, the extra ones listed as
`extra_questions`), or a whole-image loss named by the parser (unparseable, blocked,
max_tokens...) with what explains it. An image with no stored response is a loss too: why this
run got none (request_failed, rate_limited, image_failed...: the runner's record), or why it was
never asked (the stop's reason: over_budget, keys_exhausted, unreachable...). Each loss becomes
one `RejectedPair` row of rejected.csv, so the counts and the rows are the same thing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from abo_vqa.qa.base import ProviderRun, RejectedPair
from abo_vqa.qa.remote.budget import Price
from abo_vqa.qa.remote.jobs import ImageJob, Unanswered
from abo_vqa.qa.remote.parse import ParsedResponse

UNASKED: dict[str, str] = {
    "no_response": "no response in this run",
    "not_asked": "not asked: the run stopped before this image",
    "over_budget": "not asked: generate_qa.max_cost_usd was reached",
    "keys_exhausted": "not asked: every API key was dropped",
    "unreachable": "not asked: the server could not be reached",
    "batch_pending": "in a batch job still running: rerun to collect it",
}
"""What a row says about an image the run never got to, by the reason the run stopped."""


def response_source(key: str) -> str:
    """rejected.csv's `source` of a loss read from a stored response (its key, to find it)."""
    return f"response {key}"


@dataclass(frozen=True)
class Assembly:
    """What `assemble` needs besides the jobs: the provider and how to read and price answers."""

    provider: str
    parse: Callable[[Mapping[str, Any]], ParsedResponse]
    questions_per_image: int
    price: Price | None
    """Price of the responses (the batch discount is applied per record); None: unknown."""
    batch_factor: float = 1.0


def _record_cost(parsed: ParsedResponse, record: Mapping[str, Any], how: Assembly) -> float:
    if how.price is None:
        return 0.0
    cost = how.price.cost(parsed.usage.input_tokens, parsed.usage.billed_output_tokens)
    return cost * (how.batch_factor if record.get("source") == "batch" else 1.0)


def _loss(reason: str, job: ImageJob, provider: str, detail: str, source: str = "") -> RejectedPair:
    return RejectedPair(
        reason, image_id=job.image_id, image=job.image_path, provider=provider, detail=detail,
        source=source,
    )  # fmt: skip


def _add_answer(result: ProviderRun, job: ImageJob, parsed: ParsedResponse, how: Assembly) -> None:
    source = response_source(job.key)
    if parsed.problem:
        result.reject(_loss(parsed.problem, job, how.provider, parsed.detail, source))
    for item in parsed.item_rejections:
        result.reject(_loss(item.reason, job, how.provider, item.text, source))
    pairs = list(parsed.pairs)
    for extra in pairs[how.questions_per_image :]:
        rejection = RejectedPair.from_pair(
            "extra_questions", extra, image_id=job.image_id, image=job.image_path,
            provider=how.provider,
        )  # fmt: skip
        result.reject(replace(rejection, source=source))
    result.pairs_by_image[job.image_id] = pairs[: how.questions_per_image]


def assemble(
    jobs: Sequence[ImageJob],
    records: Callable[[str], Mapping[str, Any] | None],
    how: Assembly,
    failed: Mapping[str, Unanswered],
    unasked: str = "no_response",
    reused: Iterable[str] = (),
) -> ProviderRun:
    """Pairs, per-image losses and dataset totals, read from the store (`records`) alone.

    `failed` (cache key → why) and `unasked` (why the images nobody asked have nothing) only
    explain missing responses; they change rows of rejected.csv, never pairs. Stored responses
    of `reused` keys (there before this run) that yield nothing are counted in
    `stats["stored_failures_reused"]`."""
    result = ProviderRun()
    totals: Counter[str] = Counter()
    reused_problems: Counter[str] = Counter()
    reused = set(reused)
    cost = 0.0
    for job in jobs:
        record = records(job.key)
        if record is None or not isinstance(record.get("response"), dict):
            lost = failed.get(job.key) or Unanswered(unasked, UNASKED[unasked])
            result.reject(_loss(lost.reason, job, how.provider, lost.detail))
            continue
        parsed = how.parse(record["response"])
        totals["images_answered"] += 1
        totals["input_tokens"] += parsed.usage.input_tokens
        totals["output_tokens"] += parsed.usage.billed_output_tokens
        totals["thinking_tokens"] += parsed.usage.thinking_tokens
        cost += _record_cost(parsed, record, how)
        if parsed.problem and job.key in reused:
            reused_problems[parsed.problem] += 1
        _add_answer(result, job, parsed, how)
    result.stats.update(
        images=len(jobs),
        images_answered=totals["images_answered"],
        input_tokens=totals["input_tokens"],
        output_tokens=totals["output_tokens"],
        thinking_tokens=totals["thinking_tokens"],
        estimated_cost_usd=round(cost, 6) if how.price is not None else None,
        stored_failures_reused=dict(sorted(reused_problems.items())),
    )
    return result
