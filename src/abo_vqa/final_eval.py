"""The final evaluation: the fine-tuned and the quantized model on the test split, the
fine-tuned model once more with blank images, the paired comparisons between every model, and the
reports that compare them with the baselines (markdown, self-contained HTML, DVC plot data).

The final_eval stage reads its inputs, calls `evaluate_final_models`, `paired_statistics` and
`build_reports`, and writes what they return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abo_vqa.evaluate import ModelPredictor, evaluate_all
from abo_vqa.metrics.params import MetricsParams
from abo_vqa.metrics.scorer import Scorer
from abo_vqa.paired import PairedSettings, Row, compare_models
from abo_vqa.params import Params
from abo_vqa.report import (
    PlotTable,
    Significance,
    comparison_markdown,
    plot_tables,
    select_examples,
)
from abo_vqa.report_html import evaluation_html, thumbnail_data_uri
from abo_vqa.vision import BLANK_SUFFIX, BlankImages, vision_dependence

REPORT_ORDER = ("prior", "question_only", "base", "finetuned", "quantized")
"""Models in the reports, bias checks first; a model without a summary is left out."""
EXAMPLES_PER_TYPE = 2
"""Correct and, separately, wrong sample answers shown per question type in the HTML report."""
CONFUSION_ANSWERS = 12
"""The confusion plot covers the questions whose reference is one of this many commonest."""

PAIRS: tuple[tuple[str, str], ...] = (
    ("finetuned", "base"),
    ("finetuned", "prior"),
    ("finetuned", "question_only"),
    ("quantized", "finetuned"),
)
"""The paired comparisons reported (first against second); a pair with a model not evaluated
(a baseline left out of eval.baselines) is left out."""
VISION_MODEL = "finetuned"
"""The model scored a second time with blank images."""
BLANK_MODEL = VISION_MODEL + BLANK_SUFFIX

Results = dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]
"""Model name -> (per-question predictions, metrics summary), as `evaluate_all` returns them."""


def evaluate_final_models(
    params: Params,
    test_rows: Sequence[Mapping[str, str]],
    *,
    adapter: Path,
    quantized: Path,
    images: Mapping[str, Any],
    images_root: Path,
) -> Results:
    """Score the fine-tuned model (base + `adapter`), the same model with every image blanked
    (BLANK_MODEL) and the `quantized` model on the test rows, with the same scorer, batch size
    and answer post-processing as the baselines."""
    # Imported here so that building reports alone never loads the model stack.
    from abo_vqa.models import load_vqa_model
    from abo_vqa.models.lora import attach_adapter

    def predictor(vqa_model: object, shown: Mapping[str, Any] = images) -> ModelPredictor:
        return ModelPredictor(
            vqa_model,
            shown,
            batch_size=params.eval.batch_size,
            max_new_tokens=params.model.max_new_tokens,
        )

    model = params.model
    finetuned = attach_adapter(
        load_vqa_model(model.base, family=model.family, dtype=model.dtype), adapter
    )
    quantized_model = load_vqa_model(str(quantized), family=model.family)
    return evaluate_all(
        {
            VISION_MODEL: predictor(finetuned),
            "quantized": predictor(quantized_model),
            BLANK_MODEL: predictor(finetuned, BlankImages(images)),
        },
        test_rows,
        scorer=Scorer(params.metrics, postprocess=params.answers.postprocess),
        images_root=images_root,
    )


def paired_statistics(tables: Mapping[str, Sequence[Row]], metrics: MetricsParams) -> Significance:
    """The paired comparisons of PAIRS and, when the blank-image run is in `tables`, the vision
    dependence of VISION_MODEL; `tables`: model name -> its predictions (rows of a predictions
    file), every model on the same test questions."""
    settings = PairedSettings.from_metrics(metrics)
    vision = None
    if VISION_MODEL in tables and BLANK_MODEL in tables:
        vision = vision_dependence(
            tables[VISION_MODEL],
            tables[BLANK_MODEL],
            settings,
            min_gain=metrics.min_vision_gain,
            names=(VISION_MODEL, BLANK_MODEL),
        )
    return Significance(compare_models(tables, PAIRS, settings), vision, settings)


def significance_json(found: Significance) -> dict[str, Any]:
    """The metrics JSON's `paired` and `vision_dependence` sections."""
    sections: dict[str, Any] = {"paired": dict(found.paired)}
    if found.vision is not None:
        sections["vision_dependence"] = dict(found.vision)
    return sections


@dataclass(frozen=True)
class FinalReports:
    """Everything final_eval writes besides predictions and metrics."""

    markdown: str
    """reports/comparison.md"""
    html: str
    """reports/evaluation.html"""
    plots: dict[str, PlotTable]
    """Plot data files, by path relative to the plots folder."""


def build_reports(
    summaries: Mapping[str, Mapping[str, Any]],
    *,
    finetuned_predictions: Sequence[Mapping[str, Any]],
    base_predictions: Sequence[Mapping[str, Any]],
    images: Mapping[str, Any],
    quantization: Mapping[str, Any],
    context: Mapping[str, str],
    postprocess: str,
    significance: Significance | None = None,
) -> FinalReports:
    """The comparison of every model in `summaries` (baselines and final models alike).

    `images`: image_id -> PIL image, for the sample answers' thumbnails; `quantization`: the
    quantize stage's metrics; `context`: label -> value lines under the HTML report's title;
    `significance`: the paired comparisons and vision dependence, shown when given.
    """
    markdown = comparison_markdown(
        summaries, order=REPORT_ORDER, quantization=quantization, significance=significance
    )
    plots = plot_tables(
        summaries,
        order=REPORT_ORDER,
        confusion_predictions=finetuned_predictions,
        confusion_top=CONFUSION_ANSWERS,
        postprocess_mode=postprocess,
    )
    examples = select_examples(finetuned_predictions, base_predictions, per_type=EXAMPLES_PER_TYPE)
    thumbnails = {e.image_id: thumbnail_data_uri(images[e.image_id]) for e in examples}
    html = evaluation_html(
        summaries,
        order=REPORT_ORDER,
        examples=examples,
        thumbnails=thumbnails,
        context=context,
        quantization=quantization,
        significance=significance,
    )
    return FinalReports(markdown, html, plots)


def report_context(params: Params, n_questions: int, n_images: int) -> dict[str, str]:
    """The run facts shown under the HTML report's title."""
    return {
        "test questions": str(n_questions),
        "images": str(n_images),
        "base model": params.model.base,
        "answer post-processing": params.answers.postprocess,
    }
