"""The QA provider interface shared by every generate_qa backend.

A provider turns filtered listings (rows of `data/filtered/listings.jsonl`) into candidate QA
pairs, one image at a time. Providers that pay per call (Gemini) keep each image's raw response in
a persistent cache as it arrives, so an interrupted run resumes where it stopped; the stage's
output is then a pure function of that cache and the params. Every provider's candidates go through
the same validation (`abo_vqa.qa.validate`). Every dropped pair, whoever drops it, is recorded as a
`RejectedPair` (its reason and original text) and ends up in `data/qa/rejected.csv`; so is every
image that yields nothing (one row with its image id and the reason), so that the rows of
rejected.csv and the counts in the metrics are the same thing.
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
    source: str = field(default="", compare=False)
    """Where the pair came from, for an audit ("curation.csv:17"); empty when obvious."""


REJECTED_COLUMNS: tuple[str, ...] = (
    "reason",
    "detail",
    "image_id",
    "image",
    "question",
    "answer",
    "question_type",
    "provider",
    "source",
)
"""Columns of data/qa/rejected.csv."""


@dataclass(frozen=True)
class RejectedPair:
    """One dropped question/answer pair: why, and its text exactly as it arrived.

    Any step that drops a pair records one of these (`ProviderRun.reject`, or a list passed on to
    `abo_vqa.qa.dataset.build_qa_table`), so a user can audit what was lost.
    """

    reason: str
    """A short snake_case reason, the key of the per-reason counts ("multi_word_answer")."""
    question: str = ""
    answer: str = ""
    question_type: str = ""
    image_id: str = ""
    """The listing's image id, when the pair could be joined to one."""
    image: str = ""
    """The image as the input named it (a CSV cell, an image path)."""
    provider: str = ""
    source: str = ""
    """Where the pair came from ("curation.csv:17" for a CSV line)."""
    detail: str = ""
    """Anything else that explains the reason ("2 cells, expected at least 3")."""

    @classmethod
    def from_pair(
        cls, reason: str, pair: QAPair, *, image_id: str = "", image: str = "", **extra: str
    ) -> RejectedPair:
        """The record of a dropped candidate pair of one image."""
        return cls(
            reason,
            pair.question,
            pair.answer,
            pair.question_type,
            image_id=image_id,
            image=image,
            source=pair.source,
            **extra,
        )

    @classmethod
    def from_row(cls, reason: str, row: Mapping[str, str], *, detail: str = "") -> RejectedPair:
        """The record of a QA table row (QA_COLUMNS) dropped after validation."""
        return cls(
            reason,
            row.get("question", ""),
            row.get("answer", ""),
            row.get("question_type", ""),
            image_id=row.get("image_id", ""),
            image=row.get("image_path", ""),
            provider=row.get("provider", ""),
            detail=detail,
        )

    def as_row(self) -> dict[str, str]:
        """The record as a row of rejected.csv (REJECTED_COLUMNS)."""
        return {column: getattr(self, column) for column in REJECTED_COLUMNS}


@dataclass
class ProviderRun:
    """What a provider produced for a list of listings.

    `pairs_by_image` maps image_id to that image's candidate pairs (not yet validated), in the
    order of the listings given. `rejected_pairs` lists everything the provider itself had to
    discard, one record each: a candidate pair, or a whole image (a blocked prompt, an answer
    that cannot be read, an image never answered), so that every loss has a row in
    rejected.csv. `stats` carries provider-specific numbers for the stage's metrics (calls made,
    cache hits, tokens, cost...).
    """

    pairs_by_image: dict[str, list[QAPair]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    rejected_pairs: list[RejectedPair] = field(default_factory=list)

    @property
    def rejected(self) -> Counter[str]:
        """How many records `rejected_pairs` holds per reason."""
        return Counter(rejection.reason for rejection in self.rejected_pairs)

    def reject(self, rejection: RejectedPair) -> None:
        """Drop a pair or an image: keep its record for rejected.csv."""
        self.rejected_pairs.append(rejection)


class QAProvider(Protocol):
    name: str

    def run(self, listings: Sequence[Mapping[str, Any]]) -> ProviderRun:
        """Propose QA pairs for every listing (one image each)."""
        ...
