"""Stage final_eval: the fine-tuned and the quantized model on the test split, plus the report."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from abo_vqa.evaluate import PREDICTION_COLUMNS, ModelPredictor, evaluate_all, load_images
from abo_vqa.io import read_csv, read_json, write_csv, write_json
from abo_vqa.metrics import Scorer
from abo_vqa.models import load_vqa_model
from abo_vqa.params import load_params
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.quantize import attach_adapter
from abo_vqa.report import comparison_markdown

log = logging.getLogger("final_eval")

REPORT_ORDER = ("prior", "question_only", "base", "finetuned", "quantized")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=Path, required=True, help="folder with test.csv")
    parser.add_argument("--adapter", type=Path, required=True)
    parser.add_argument("--quantized", type=Path, required=True)
    parser.add_argument("--baseline-metrics", type=Path, required=True)
    parser.add_argument("--predictions", type=Path, required=True, help="folder for <model>.csv")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True, help="markdown comparison to write")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_params(args.params)
    test_rows = read_csv(args.splits / "test.csv", required=QA_COLUMNS)
    images_root = Path(params.data.abo_root) / "images" / "small"
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
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(comparison_markdown(everything, order=REPORT_ORDER), encoding="utf-8")


if __name__ == "__main__":
    main()
