"""Stage quantize: merge the LoRA adapter into the base, quantize it, and measure the variants."""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from abo_vqa import abo
from abo_vqa.evaluate import ModelPredictor, evaluate_predictions, load_images
from abo_vqa.io import read_csv, write_json
from abo_vqa.metrics.params import MetricsParams
from abo_vqa.metrics.scorer import Scorer
from abo_vqa.models import load_vqa_model
from abo_vqa.models.lora import attach_adapter
from abo_vqa.params import load_params
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.quantize import (
    directory_size,
    load_variant,
    measure_variants,
    merge_adapter,
    weight_bytes,
)
from abo_vqa.stage import run_stage

log = logging.getLogger("quantize")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--adapter", type=Path, required=True)
    parser.add_argument("--splits", type=Path, required=True, help="folder with test.csv")
    parser.add_argument("--merged", type=Path, required=True, help="folder for the merged model")
    parser.add_argument("--out", type=Path, required=True, help="folder for the quantized model")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()

    params = load_params(args.params)
    family = params.model.family
    base = load_vqa_model(params.model.base, family=family, dtype="float32")
    merged = merge_adapter(attach_adapter(base, args.adapter))
    shutil.rmtree(args.merged, ignore_errors=True)
    merged.save(args.merged)

    quantized = load_variant(args.merged, params.quantize, family)
    shutil.rmtree(args.out, ignore_errors=True)
    quantized.save(args.out)

    test_rows = read_csv(args.splits / "test.csv", required=QA_COLUMNS)
    images = load_images(test_rows, abo.images_dir(params.data.abo_root))
    scorer = Scorer(
        MetricsParams(enabled=("exact_match",), bootstrap_samples=1),
        postprocess=params.answers.postprocess,
    )

    def exact_match(vqa_model: object) -> float:
        predictor = ModelPredictor(
            vqa_model,
            images,
            batch_size=params.eval.batch_size,
            max_new_tokens=params.model.max_new_tokens,
        )
        _, summary = evaluate_predictions(
            test_rows, predictor.predict_rows(test_rows), scorer=scorer
        )
        return summary["exact_match"]["mean"]

    variants = measure_variants(
        args.merged,
        params.quantize,
        family=family,
        rows=test_rows,
        images=images,
        exact_match=exact_match,
    )
    metrics = {
        "method": params.quantize.method,
        "double_quant": params.quantize.double_quant,
        "merged_bytes": directory_size(args.merged),
        "quantized_bytes": directory_size(args.out),
        "merged_weight_bytes": weight_bytes(args.merged),
        "quantized_weight_bytes": weight_bytes(args.out),
        "latency_batch_size": min(params.quantize.latency_batch_size, len(test_rows)),
        "latency_rounds": params.quantize.latency_rounds,
        "variants": variants,
    }
    write_json(args.metrics, metrics)
    for method, result in variants.items():
        if "error" in result:
            log.warning("%-5s failed: %s", method, result["error"])
            continue
        log.info(
            "%-5s %6.2f MB weights, exact match %.3f (%+.3f), "
            "%.3f s per batch of %d (%.3f–%.3f, ×%.2f of none)",
            method,
            result["weight_bytes"] / 1e6,
            result["exact_match"],
            result["exact_match_change"],
            result["batch_latency_median_s"],
            metrics["latency_batch_size"],
            result["batch_latency_min_s"],
            result["batch_latency_max_s"],
            result["batch_latency_ratio_to_none"],
        )


if __name__ == "__main__":
    run_stage(main)
