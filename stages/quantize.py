"""Stage quantize: merge the LoRA adapter into the base, quantize it, and measure the variants."""

from __future__ import annotations

import logging
import shutil

from abo_vqa import abo, quantize
from abo_vqa.cards import write_pipeline_card
from abo_vqa.evaluate import read_test_split
from abo_vqa.io import write_json
from abo_vqa.models import load_vqa_model
from abo_vqa.models.lora import attach_adapter
from abo_vqa.stage import run_stage, stage_arguments

log = logging.getLogger("quantize")


def main() -> None:
    args, params = stage_arguments(
        __doc__, ("--adapter", "--splits", "--merged", "--out", "--metrics"), runs_models=True
    )
    family = params.model.family
    test_rows, images = read_test_split(args.splits, abo.images_dir(params.data.abo_root))
    probe = quantize.ExactMatchProbe.from_params(test_rows, images, params)
    base = load_vqa_model(params.model.base, family=family, dtype="float32")
    adapter = attach_adapter(base, args.adapter)
    adapter_answers = probe.answers(adapter)
    merged = quantize.merge_adapter(adapter)
    shutil.rmtree(args.merged, ignore_errors=True)
    merged.save(args.merged)
    write_pipeline_card(args.merged, "merged", params)

    quantized = quantize.load_variant(args.merged, params.quantize, family)
    shutil.rmtree(args.out, ignore_errors=True)
    quantized.save(args.out)
    write_pipeline_card(args.out, "quantized", params)

    variants = quantize.measure_variants(
        args.merged, params.quantize, family=family, probe=probe, adapter_answers=adapter_answers
    )
    timed = params.quantize.latency_rounds > 0
    metrics = {
        "method": params.quantize.method,
        "double_quant": params.quantize.double_quant,
        "merged_bytes": quantize.directory_size(args.merged),
        "quantized_bytes": quantize.directory_size(args.out),
        "merged_weight_bytes": quantize.weight_bytes(args.merged),
        "quantized_weight_bytes": quantize.weight_bytes(args.out),
        "test_questions": len(test_rows),
        **(
            {
                "latency_batch_size": min(params.quantize.latency_batch_size, len(test_rows)),
                "latency_rounds": params.quantize.latency_rounds,
                "timing_device": quantize.timing_device(),
            }
            if timed
            else {}
        ),
        "variants": variants,
    }
    write_json(args.metrics, metrics)
    for method, result in variants.items():
        if "error" in result:
            log.warning("%-5s failed: %s", method, result["error"])
            continue
        log.info(
            "%-5s %6.2f MB weights, exact match %.3f (%+.3f), %d of %d answers as the adapter's%s",
            method,
            result["weight_bytes"] / 1e6,
            result["exact_match"],
            result["exact_match_change"],
            result["agreement_with_adapter"],
            len(test_rows),
            f", {result['batch_latency_median_s']:.3f} s per batch" if timed else "",
        )


if __name__ == "__main__":
    run_stage(main)
