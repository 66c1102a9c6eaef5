"""The metrics, declared: name, direction, how each is computed, which models it needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from abo_vqa.metrics import text

ModelKind = Literal["sbert", "bertscore", "clip", "bart"]


@dataclass(frozen=True)
class Metric:
    name: str
    """Key in the metrics JSON and column of the per-sample table."""
    higher_is_better: bool
    description: str
    pair_fn: Callable[[str, str], float] | None = None
    """Pure score of one (answer, reference) pair; None for model metrics, which the scorer
    computes in batches with the models in `needs_model`."""
    on_raw_text: bool = False
    """`pair_fn` gets the raw generated text and the raw reference, not the post-processed
    answer and the normalised reference."""
    needs_model: tuple[ModelKind, ...] = ()
    needs_images: bool = False


METRICS: tuple[Metric, ...] = (
    Metric(
        "exact_match", True,
        "post-processed answer == normalised reference",
        pair_fn=text.exact_match,
    ),
    Metric(
        "vqa_accuracy", True,
        "exact match after the official VQAv2 normalisation of the raw text of both sides",
        pair_fn=text.vqa_accuracy, on_raw_text=True,
    ),
    Metric(
        "token_f1", True,
        "SQuAD-style token-overlap F1",
        pair_fn=text.token_f1,
    ),
    Metric(
        "rouge_l", True,
        "ROUGE-L F-measure (rouge-score)",
        pair_fn=text.rouge_l,
    ),
    Metric(
        "sbert_cosine", True,
        "cosine of sentence embeddings of answer and reference",
        needs_model=("sbert",),
    ),
    Metric(
        "bertscore_f1", True,
        "BERTScore F1 (bert-score), no baseline rescaling",
        needs_model=("bertscore",),
    ),
    Metric(
        "csns", True,
        "SBERT cosine, or exp(-alpha*|a_hat-a|/(|a|+1e-6)) when both sides are numbers",
        needs_model=("sbert",),
    ),
    Metric(
        "vtgs", True,
        "csns^beta * CLIP visual grounding^(1-beta)",
        needs_model=("sbert", "clip"), needs_images=True,
    ),
    Metric(
        "bartscore", True,
        "BARTScore F: mean token log-likelihood under BART, both directions (<= 0)",
        needs_model=("bart",),
    ),
)  # fmt: skip

METRIC_NAMES: tuple[str, ...] = tuple(metric.name for metric in METRICS)
METRICS_BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}
