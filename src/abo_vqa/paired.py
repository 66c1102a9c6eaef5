"""Paired comparisons of two models scored on the same test questions: is a gain real?

Two per-model intervals that overlap do not say "no difference", nor do two that are apart say
"a difference": each model's score varies with the questions drawn, and both models see the same
questions. The paired view looks at the difference itself, question by question:

- the difference in exact match, first model minus second;
- its interval from a cluster bootstrap: the resampled units are IMAGES, and all questions of an
  image move together. Questions about one product photo are not independent (an image that is
  hard for a model is hard for all its questions), so resampling questions one by one would
  make the interval too narrow;
- the exact McNemar p-value: a two-sided binomial test (p = 1/2) on the discordant questions,
  those exactly one of the two models answers correctly;
- a verdict in plain words. The interval and the test answer the same question with different
  approximations (the test treats questions as independent, the interval does not), so near the
  boundary they can disagree. A difference is called "better" or "worse" only when both agree:
  the interval excludes zero AND p < 1 - confidence. Otherwise the verdict is "no detectable
  difference at <confidence>", marked `borderline` when exactly one of the two saw a difference.

Everything here is a pure function of its inputs and the seed: same inputs, same numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from abo_vqa.io import InputError
from abo_vqa.metrics.aggregate import percentile_interval, resample_counts, rounded

if TYPE_CHECKING:
    from abo_vqa.metrics.params import MetricsParams

BETTER, WORSE = "better", "worse"


def no_difference(confidence: float) -> str:
    """The verdict when no difference is detected, naming the level ("... at 95%")."""
    return f"no detectable difference at {100 * confidence:g}%"


@dataclass(frozen=True)
class PairedSettings:
    """How paired differences are tested (params.yaml's metrics.bootstrap_samples, confidence,
    seed: the same settings as the per-model intervals)."""

    samples: int
    confidence: float
    seed: int

    @classmethod
    def from_metrics(cls, metrics: MetricsParams) -> PairedSettings:
        """The per-model intervals' settings: one confidence level throughout the reports."""
        return cls(metrics.bootstrap_samples, metrics.confidence, metrics.seed)


def mcnemar_p_value(first_only: int, second_only: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts: the questions only the first
    model answers correctly, and those only the second does.

    Under "no difference" each discordant question is a fair coin; the p-value is twice the
    smaller tail of Binomial(first_only + second_only, 1/2), capped at 1, summed in exact
    integers and rounded once (no loss of precision for thousands of discordant questions; a
    p-value below the smallest float, about 5e-324, is 0.0).
    """
    if first_only < 0 or second_only < 0:
        raise ValueError(f"discordant counts must be non-negative: {first_only}, {second_only}")
    n = first_only + second_only
    smaller = min(first_only, second_only)
    tail = sum(math.comb(n, k) for k in range(smaller + 1))
    return min(1.0, 2 * tail / 2**n)


def cluster_bootstrap_interval(
    differences: Sequence[float], clusters: Sequence[str], settings: PairedSettings
) -> tuple[float, float]:
    """Percentile interval of the mean of `differences` when whole clusters are resampled.

    Each resample draws as many clusters as there are, with replacement, and takes the mean over
    every question of the clusters drawn (a cluster of 3 questions weighs 3). One cluster per
    question is the ordinary bootstrap.
    """
    values = np.asarray(differences, dtype=np.float64)
    if values.size == 0 or values.size != len(clusters):
        raise ValueError(f"{values.size} differences for {len(clusters)} cluster labels")
    _, index = np.unique(np.asarray(clusters, dtype=object), return_inverse=True)
    sums = np.bincount(index, weights=values)
    sizes = np.bincount(index).astype(np.float64)
    # Sums and sizes are whole numbers, so both products are exact in float64 whatever the
    # order of summation: the interval does not depend on the BLAS build or thread count.
    means = np.concatenate(
        [
            (counts @ sums) / (counts @ sizes)
            for counts in resample_counts(len(sums), settings.samples, settings.seed)
        ]
    )
    low, high = percentile_interval(means, settings.confidence)
    return float(low), float(high)


def verdict(ci_low: float, ci_high: float, p_value: float, confidence: float) -> tuple[str, bool]:
    """(verdict, borderline): "better"/"worse" when the interval excludes zero and the test is
    significant at 1 - confidence; otherwise no difference, borderline when only one of them
    saw one."""
    alpha = round(1.0 - confidence, 12)  # 1 - 0.95 is 0.05000000000000004 in floating point
    direction = BETTER if ci_low > 0 else WORSE if ci_high < 0 else None
    significant = p_value < alpha
    if direction is not None and significant:
        return direction, False
    return no_difference(confidence), (direction is not None) != significant


@dataclass(frozen=True)
class PairedResult:
    """The paired comparison of two models on one set of questions."""

    n: int
    images: int
    first_mean: float
    second_mean: float
    delta: float
    """first_mean - second_mean."""
    ci_low: float
    ci_high: float
    p_value: float
    first_only: int
    """Questions only the first model answers correctly."""
    second_only: int
    verdict: str
    borderline: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "images": self.images,
            "a_exact_match": rounded(self.first_mean),
            "b_exact_match": rounded(self.second_mean),
            "delta": rounded(self.delta),
            "ci_low": rounded(self.ci_low),
            "ci_high": rounded(self.ci_high),
            "p_value": float(f"{self.p_value:.4g}"),
            "a_only": self.first_only,
            "b_only": self.second_only,
            "verdict": self.verdict,
            "borderline": self.borderline,
        }


def paired_result(
    first_correct: Sequence[int],
    second_correct: Sequence[int],
    images: Sequence[str],
    settings: PairedSettings,
) -> PairedResult:
    """Compare two 0/1 exact-match vectors over the same questions; `images` labels each
    question's image (the bootstrap's cluster)."""
    first = np.asarray(first_correct, dtype=np.int64)
    second = np.asarray(second_correct, dtype=np.int64)
    if first.shape != second.shape or first.size != len(images) or first.size == 0:
        raise ValueError(
            f"need the same non-empty questions: {first.size}, {second.size}, {len(images)}"
        )
    differences = first - second
    ci_low, ci_high = cluster_bootstrap_interval(differences, images, settings)
    first_only, second_only = int((differences > 0).sum()), int((differences < 0).sum())
    p_value = mcnemar_p_value(first_only, second_only)
    said, borderline = verdict(ci_low, ci_high, p_value, settings.confidence)
    return PairedResult(
        n=int(first.size),
        images=len(set(images)),
        first_mean=float(first.mean()),
        second_mean=float(second.mean()),
        delta=float(differences.mean()),
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        first_only=first_only,
        second_only=second_only,
        verdict=said,
        borderline=borderline,
    )


# --- prediction tables ----------------------------------------------------------------------------


class QuestionMismatch(InputError):
    """Two prediction tables that do not hold the same test questions."""


Row = Mapping[str, Any]
"""A row of a predictions file: image_id, question, question_type, answer, correct (0/1)."""


def _keyed(rows: Sequence[Row]) -> dict[tuple[tuple[str, str, str], int], Row]:
    """Rows by (image_id, question, answer) and occurrence, so repeated questions pair in order."""
    seen: Counter[tuple[str, str, str]] = Counter()
    keyed = {}
    for row in rows:
        key = (str(row["image_id"]), str(row["question"]), str(row["answer"]))
        keyed[(key, seen[key])] = row
        seen[key] += 1
    return keyed


def align_questions(
    first: Sequence[Row], second: Sequence[Row], *, first_name: str, second_name: str
) -> list[tuple[Row, Row]]:
    """Pair the rows of two prediction tables question by question (first table's order).

    Raises `QuestionMismatch` (one line, naming both) unless both hold exactly the same
    (image, question, reference answer) rows, in any order.
    """
    first_keyed, second_keyed = _keyed(first), _keyed(second)
    only_first = [key for key in first_keyed if key not in second_keyed]
    only_second = [key for key in second_keyed if key not in first_keyed]
    if only_first or only_second:
        (image, question, _), _ = (only_first or only_second)[0]
        raise QuestionMismatch(
            f"{first_name} and {second_name} were not scored on the same test questions: "
            f"{len(only_first)} only in {first_name}, {len(only_second)} only in "
            f"{second_name} (first: image {image}, {question!r}); compare runs of one test split"
        )
    return [(row, second_keyed[key]) for key, row in first_keyed.items()]


def _correct(row: Row) -> int:
    return int(row["correct"])  # an int in memory, "0"/"1" read back from a CSV file


def compare_tables(
    first: Sequence[Row],
    second: Sequence[Row],
    settings: PairedSettings,
    *,
    names: tuple[str, str],
) -> dict[str, Any]:
    """The paired comparison of two prediction tables, overall and per question type.

    {"a", "b", <PairedResult.as_json() fields>, "by_type": {type: <fields>}}; `names` are the
    two tables' names (`a`, `b`), used in a mismatch error too.
    """
    pairs = align_questions(first, second, first_name=names[0], second_name=names[1])

    def result(subset: Sequence[tuple[Row, Row]]) -> dict[str, Any]:
        return paired_result(
            [_correct(a) for a, _ in subset],
            [_correct(b) for _, b in subset],
            [str(a["image_id"]) for a, _ in subset],
            settings,
        ).as_json()

    by_type: dict[str, list[tuple[Row, Row]]] = {}
    for pair in pairs:
        by_type.setdefault(str(pair[0]["question_type"]), []).append(pair)
    return {
        "a": names[0],
        "b": names[1],
        **result(pairs),
        "by_type": {kind: result(subset) for kind, subset in sorted(by_type.items())},
    }


def pair_key(first: str, second: str) -> str:
    """The key of a comparison in metrics JSON: "<first>_vs_<second>"."""
    return f"{first}_vs_{second}"


def compare_models(
    tables: Mapping[str, Sequence[Row]],
    pairs: Sequence[tuple[str, str]],
    settings: PairedSettings,
) -> dict[str, dict[str, Any]]:
    """Every pair of `pairs` whose two prediction tables are in `tables`, by `pair_key`, in the
    order of `pairs` (a pair with a model not evaluated is left out)."""
    return {
        pair_key(first, second): compare_tables(
            tables[first], tables[second], settings, names=(first, second)
        )
        for first, second in pairs
        if first in tables and second in tables
    }
