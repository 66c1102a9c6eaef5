"""Stage final_eval: the fine-tuned and the quantized model on the test split, plus the reports.

Writes the per-model predictions and metrics JSON, the markdown comparison, the self-contained
HTML report (with sample answers and their images) and the CSV files behind the DVC plots. Both
reports end with the quantization trade-off the quantize stage measured.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from abo_vqa import abo
from abo_vqa.evaluate import PREDICTION_COLUMNS, ModelPredictor, evaluate_all, load_images
from abo_vqa.io import read_csv, read_json, write_csv, write_json
from abo_vqa.metrics.scorer import Scorer
from abo_vqa.models import load_vqa_model
from abo_vqa.models.lora import attach_adapter
from abo_vqa.params import load_params
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.report import comparison_markdown, plot_tables, select_examples
from abo_vqa.report_html import evaluation_html, thumbnail_data_uri
from abo_vqa.stage import run_stage

log = logging.getLogger("final_eval")

REPORT_ORDER = ("prior", "question_only", "base", "finetuned", "quantized")
EXAMPLES_PER_TYPE = 2
"""Correct and, separately, wrong sample answers shown per question type in the HTML report."""
CONFUSION_ANSWERS = 12
"""The confusion plot covers the questions whose reference is one of this many commonest."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=Path, required=True, help="folder with test.csv")
    parser.add_argument("--adapter", type=Path, required=True)
    parser.add_argument("--quantized", type=Path, required=True)
    parser.add_argument("--baseline-metrics", type=Path, required=True)
    parser.add_argument(
        "--baseline-predictions", type=Path, required=True, help="folder with base.csv"
    )
    parser.add_argument(
        "--quantize-metrics", type=Path, required=True, help="the quantize stage's metrics JSON"
    )
    parser.add_argument("--predictions", type=Path, required=True, help="folder for <model>.csv")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True, help="markdown comparison to write")
    parser.add_argument("--html", type=Path, required=True, help="HTML report to write")
    parser.add_argument("--plots", type=Path, required=True, help="folder for plot data files")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()

    params = load_params(args.params)
    test_rows = read_csv(args.splits / "test.csv", required=QA_COLUMNS)
    images_root = abo.images_dir(params.data.abo_root)
    images = load_images(test_rows, images_root)

    def predictor(vqa_model: object) -> ModelPredictor:
        return ModelPredictor(
            vqa_model,
            images,
            batch_size=params.eval.batch_size,
            max_new_tokens=params.model.max_new_tokens,
        )

    finetuned = attach_adapter(
        load_vqa_model(params.model.base, family=params.model.family, dtype=params.model.dtype),
        args.adapter,
    )
    quantized = load_vqa_model(str(args.quantized), family=params.model.family)
    results = evaluate_all(
        {"finetuned": predictor(finetuned), "quantized": predictor(quantized)},
        test_rows,
        scorer=Scorer(params.metrics, postprocess=params.answers.postprocess),
        images_root=images_root,
    )
    for name, (table, summary) in results.items():
        write_csv(args.predictions / f"{name}.csv", table, PREDICTION_COLUMNS)
        log.info("%s: exact match %.3f", name, summary["exact_match"]["mean"])
    summaries = {name: summary for name, (_, summary) in results.items()}
    write_json(args.metrics, summaries)

    everything = {**read_json(args.baseline_metrics), **summaries}
    quantization = read_json(args.quantize_metrics)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(
        comparison_markdown(everything, order=REPORT_ORDER, quantization=quantization),
        encoding="utf-8",
    )

    finetuned_table = results["finetuned"][0]
    tables = plot_tables(
        everything,
        order=REPORT_ORDER,
        confusion_predictions=finetuned_table,
        confusion_top=CONFUSION_ANSWERS,
        postprocess_mode=params.answers.postprocess,
    )
    for relative, table in tables.items():
        write_csv(args.plots / relative, table.rows, table.columns)

    base_table = read_csv(args.baseline_predictions / "base.csv", required=PREDICTION_COLUMNS)
    examples = select_examples(finetuned_table, base_table, per_type=EXAMPLES_PER_TYPE)
    thumbnails = {e.image_id: thumbnail_data_uri(images[e.image_id]) for e in examples}
    page = evaluation_html(
        everything,
        order=REPORT_ORDER,
        examples=examples,
        thumbnails=thumbnails,
        context={
            "test questions": str(len(test_rows)),
            "images": str(len(images)),
            "base model": params.model.base,
            "answer post-processing": params.answers.postprocess,
        },
        quantization=quantization,
    )
    args.html.parent.mkdir(parents=True, exist_ok=True)
    args.html.write_text(page, encoding="utf-8")
    log.info(
        "reports: %s, %s, %d plot files in %s", args.report, args.html, len(tables), args.plots
    )


if __name__ == "__main__":
    run_stage(main)
