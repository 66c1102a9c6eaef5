"""The QA provider interface shared by every generate_qa backend.

A provider turns filtered listings (rows of `data/filtered/listings.jsonl`) into candidate QA
pairs, one image at a time. Providers that pay per call (Gemini) keep each image's raw response in
a persistent cache as it arrives, so an interrupted run resumes where it stopped; the stage's
output is then a pure function of that cache and the params. Every provider's candidates go through
the same validation (`abo_vqa.qa.validate`), which counts each rejection by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

QA_COLUMNS: tuple[str, ...] = (
    "image_id",
    "item_id",
    "image_path",
    "question",
    "answer",
    "question_type",
    "provider",
)
"""Columns of data/qa/qa.csv and of every split file."""


@dataclass(frozen=True)
class QAPair:
    """One candidate question/answer about one image, as a provider proposed it."""

    question: str
    answer: str
    question_type: str


@dataclass
class ProviderRun:
    """What a provider produced for a list of listings.

    `pairs_by_image` maps image_id to that image's candidate pairs (not yet validated), in the
    order of the listings given. `rejected` counts candidates or whole images the provider itself
    had to discard (e.g. a blocked prompt), by reason. `stats` carries provider-specific numbers
    for the stage's metrics (calls made, cache hits, tokens, cost...).
    """

    pairs_by_image: dict[str, list[QAPair]] = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)
    stats: dict[str, Any] = field(default_factory=dict)
    dropped: list[tuple[str, QAPair, str]] = field(default_factory=list)
    """Pairs taken out after the provider proposed them, as (image_id, pair, reason), e.g. by
    the verification pass; each is also counted in `rejected` under its reason."""


class QAProvider(Protocol):
    name: str

    def run(self, listings: Sequence[Mapping[str, Any]]) -> ProviderRun:
        """Propose QA pairs for every listing (one image each)."""
        ...
