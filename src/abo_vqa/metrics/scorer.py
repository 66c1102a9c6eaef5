"""Scoring a list of predictions against references with every enabled metric.

A `Scorer` lives as long as the evaluation (e.g. all models of final_eval): it loads each model
on first use and keeps its embedding and pair caches, so answers already seen cost nothing.
`Scorer.score` returns an `EvaluationScores`, whose `summary()` is the metrics JSON.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from abo_vqa.answers import POSTPROCESS_MODES, PostprocessMode, normalize_reference, postprocess
from abo_vqa.metrics import models
from abo_vqa.metrics.aggregate import bootstrap_intervals, means_by_group, rounded
from abo_vqa.metrics.cache import EmbeddingCache, PairScoreCache, pairwise
from abo_vqa.metrics.catalog import METRICS, Metric, ModelKind
from abo_vqa.metrics.params import MetricsParams
from abo_vqa.metrics.semantic import cosine_by_index, csns, visual_grounding, vtgs
from abo_vqa.metrics.text import answer_form


@dataclass(frozen=True)
class ScoringInputs:
    """One call's samples, aligned by index."""

    predictions: tuple[str, ...]
    """Raw generated text."""
    answers: tuple[str, ...]
    """Predictions post-processed with the scorer's mode."""
    raw_references: tuple[str, ...]
    references: tuple[str, ...]
    """References normalised with the scorer's mode."""
    images: tuple[str, ...] | None
    """Image file per sample (for vtgs)."""


@dataclass(frozen=True, eq=False)
class EvaluationScores:
    """Per-sample scores of one evaluation and their aggregation."""

    inputs: ScoringInputs
    question_types: tuple[str, ...] | None
    per_sample: Mapping[str, np.ndarray]
    """Metric name -> scores (N,), in the order of METRICS, for the metrics computed."""
    skipped: Mapping[str, str]
    """Metric name -> why it could not be computed."""
    bootstrap_samples: int
    confidence: float
    seed: int

    @property
    def n(self) -> int:
        return len(self.inputs.predictions)

    def summary(self) -> dict[str, Any]:
        """The metrics JSON: every value a plain number rounded to 4 decimals, stable keys.

        {"n", <metric>: {"mean", "ci_low", "ci_high"} for each computed metric, "skipped":
        {<metric>: reason}, "by_type": {<question type>: {"n", <metric>: mean}},
        "answer_form": {"single_word_rate", "mean_words", "empty_rate"}}.
        """
        names = list(self.per_sample)
        summary: dict[str, Any] = {"n": self.n}
        by_type: dict[str, Any] = {}
        if names:
            matrix = np.column_stack([self.per_sample[name] for name in names])  # (N, M)
            intervals = bootstrap_intervals(
                matrix, self.bootstrap_samples, self.seed, self.confidence
            )
            for name, column, (low, high) in zip(names, matrix.T, intervals, strict=True):
                summary[name] = {
                    "mean": rounded(column.mean()),
                    "ci_low": rounded(low),
                    "ci_high": rounded(high),
                }
            groups = means_by_group(matrix, self.question_types or ())
            for question_type, (count, means) in groups.items():
                by_type[question_type] = {
                    "n": count,
                    **{name: rounded(mean) for name, mean in zip(names, means, strict=True)},
                }
        summary["skipped"] = dict(self.skipped)
        summary["by_type"] = by_type
        summary["answer_form"] = {
            key: rounded(value) for key, value in answer_form(self.inputs.predictions).items()
        }
        return summary

    def records(self) -> list[dict[str, Any]]:
        """One row per sample: prediction, answer, reference, question_type and every score."""
        inputs = self.inputs
        return [
            {
                "prediction": inputs.predictions[i],
                "answer": inputs.answers[i],
                "reference": inputs.raw_references[i],
                "question_type": self.question_types[i] if self.question_types else None,
                **{name: float(values[i]) for name, values in self.per_sample.items()},
            }
            for i in range(self.n)
        ]


class Scorer:
    """Scores predictions with the metrics enabled in `params`, answers post-processed with
    `postprocess` (the value of `params.answers.postprocess`)."""

    def __init__(
        self, params: MetricsParams | None = None, postprocess: PostprocessMode = "first_word"
    ) -> None:
        if postprocess not in POSTPROCESS_MODES:
            raise ValueError(
                f"answers.postprocess: {postprocess!r} is not one of {list(POSTPROCESS_MODES)}"
            )
        self.params = params or MetricsParams()
        self.postprocess = postprocess
        self._models: dict[ModelKind, Any] = {}  # a loaded model, or the ModelUnavailable
        self._pair_caches: dict[str, PairScoreCache] = {}
        self._embedding_caches: dict[str, EmbeddingCache] = {}

    def score(
        self,
        predictions: Sequence[str],
        references: Sequence[str],
        question_types: Sequence[str] | None = None,
        images: Sequence[str | os.PathLike[str]] | None = None,
    ) -> EvaluationScores:
        """Score generated `predictions` (raw text) against `references`, sample by sample.

        `question_types` groups the `by_type` summary (None: no grouping); `images` are the
        image files of the samples, needed by vtgs only (None: vtgs is skipped).
        """
        n = len(predictions)
        if n == 0:
            raise ValueError("score: no predictions to score")
        for label, values in (
            ("references", references),
            ("question_types", question_types),
            ("images", images),
        ):
            if values is not None and len(values) != n:
                raise ValueError(f"score: {n} predictions but {len(values)} {label}")
        # Answers repeat heavily: post-process each distinct string once.
        answer_of = {p: postprocess(p, self.postprocess) for p in set(predictions)}
        reference_of = {r: normalize_reference(r, self.postprocess) for r in set(references)}
        inputs = ScoringInputs(
            predictions=tuple(predictions),
            answers=tuple(answer_of[p] for p in predictions),
            raw_references=tuple(references),
            references=tuple(reference_of[r] for r in references),
            images=None if images is None else tuple(os.fspath(image) for image in images),
        )
        per_sample: dict[str, np.ndarray] = {}
        skipped: dict[str, str] = {}
        for metric in METRICS:
            if metric.name not in self.params.enabled:
                continue
            reason = self._unavailable(metric, inputs)
            if reason:
                skipped[metric.name] = reason
            else:
                per_sample[metric.name] = self._compute(metric, inputs)
        return EvaluationScores(
            inputs=inputs,
            question_types=None if question_types is None else tuple(question_types),
            per_sample=per_sample,
            skipped=skipped,
            bootstrap_samples=self.params.bootstrap_samples,
            confidence=self.params.confidence,
            seed=self.params.seed,
        )

    # --- models ---------------------------------------------------------------------------------

    def _model(self, kind: ModelKind) -> Any:
        """The loaded model of `kind`, or the ModelUnavailable explaining why not (loaded or
        attempted once per scorer)."""
        if kind not in self._models:
            p = self.params
            name, loader, args = {
                "sbert": (p.sbert_model, models.load_sentence_encoder, ()),
                "bertscore": (p.bertscore_model, models.load_bertscorer, (p.bertscore_num_layers,)),
                "clip": (p.clip_model, models.load_clip, ()),
                "bart": (p.bart_model, models.load_bart, ()),
            }[kind]
            try:
                self._models[kind] = models.load_model(name, loader, *args)
            except models.ModelUnavailable as error:
                self._models[kind] = error
        return self._models[kind]

    def _unavailable(self, metric: Metric, inputs: ScoringInputs) -> str | None:
        if metric.needs_images and inputs.images is None:
            return "no images given"
        for kind in metric.needs_model:
            model = self._model(kind)
            if isinstance(model, models.ModelUnavailable):
                return str(model)
        return None

    def _pair_cache(self, name: str, score_pairs: Callable) -> PairScoreCache:
        if name not in self._pair_caches:
            self._pair_caches[name] = PairScoreCache(score_pairs)
        return self._pair_caches[name]

    def _embedding_cache(self, name: str, embed: Callable) -> EmbeddingCache:
        if name not in self._embedding_caches:
            self._embedding_caches[name] = EmbeddingCache(embed)
        return self._embedding_caches[name]

    # --- metrics --------------------------------------------------------------------------------

    def _compute(self, metric: Metric, inputs: ScoringInputs) -> np.ndarray:
        if metric.pair_fn is not None:
            cache = self._pair_cache(metric.name, pairwise(metric.pair_fn))
            if metric.on_raw_text:
                return cache.scores(inputs.predictions, inputs.raw_references)
            return cache.scores(inputs.answers, inputs.references)
        compute = {
            "sbert_cosine": self._sentence_cosines,
            "bertscore_f1": self._bertscore_f1,
            "csns": self._csns,
            "vtgs": self._vtgs,
            "bartscore": self._bartscore,
        }[metric.name]
        return compute(inputs)

    def _sentence_cosines(self, inputs: ScoringInputs) -> np.ndarray:
        encoder, batch_size = self._model("sbert"), self.params.batch_size
        cache = self._embedding_cache(
            "sbert", lambda texts: models.sentence_embeddings(encoder, texts, batch_size)
        )
        rows = cache.rows(inputs.answers + inputs.references)
        n = len(inputs.answers)
        return cosine_by_index(cache.matrix, rows[:n], rows[n:])

    def _csns(self, inputs: ScoringInputs) -> np.ndarray:
        cosines = self._sentence_cosines(inputs)
        return csns(cosines, inputs.answers, inputs.references, self.params.csns_alpha)

    def _vtgs(self, inputs: ScoringInputs) -> np.ndarray:
        clip, batch_size = self._model("clip"), self.params.batch_size
        texts = self._embedding_cache(
            "clip_text", lambda t: models.clip_text_embeddings(clip, t, batch_size)
        )
        images = self._embedding_cache(
            "clip_image", lambda paths: models.clip_image_embeddings(clip, paths, batch_size)
        )
        prompts = [self.params.clip_prompt.replace("{answer}", a) for a in inputs.answers]
        text_rows, image_rows = texts.rows(prompts), images.rows(inputs.images)
        cosines = np.einsum("ij,ij->i", texts.matrix[text_rows], images.matrix[image_rows])
        return vtgs(self._csns(inputs), visual_grounding(cosines), self.params.vtgs_beta)

    def _bertscore_f1(self, inputs: ScoringInputs) -> np.ndarray:
        scorer, batch_size = self._model("bertscore"), self.params.batch_size
        cache = self._pair_cache(
            "bertscore_f1", lambda a, r: models.bertscore_f1(scorer, a, r, batch_size)
        )
        return cache.scores(inputs.answers, inputs.references)

    def _bartscore(self, inputs: ScoringInputs) -> np.ndarray:
        bart, batch_size = self._model("bart"), self.params.batch_size
        cache = self._pair_cache(
            "bartscore", lambda a, r: models.bartscore_f(bart, a, r, batch_size)
        )
        return cache.scores(inputs.answers, inputs.references)
