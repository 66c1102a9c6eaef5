"""Stage quantize: merge the LoRA adapter into the base, then quantize with bitsandbytes."""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from abo_vqa.io import write_json
from abo_vqa.models import load_vqa_model
from abo_vqa.params import load_params
from abo_vqa.quantize import attach_adapter, bnb_config, directory_size, merge_adapter, weight_bytes

log = logging.getLogger("quantize")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--adapter", type=Path, required=True)
    parser.add_argument("--merged", type=Path, required=True, help="folder for the merged model")
    parser.add_argument("--out", type=Path, required=True, help="folder for the quantized model")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_params(args.params)
    vqa_model = load_vqa_model(params.model.base, family=params.model.family, dtype="float32")
    merged = merge_adapter(attach_adapter(vqa_model, args.adapter))
    shutil.rmtree(args.merged, ignore_errors=True)
    merged.save(args.merged)

    quantized = load_vqa_model(
        str(args.merged),
        family=params.model.family,
        quantization_config=bnb_config(params.quantize),
    )
    shutil.rmtree(args.out, ignore_errors=True)
    quantized.save(args.out)

    metrics = {
        "method": params.quantize.method,
        "double_quant": params.quantize.double_quant,
        "merged_bytes": directory_size(args.merged),
        "quantized_bytes": directory_size(args.out),
        "merged_weight_bytes": weight_bytes(args.merged),
        "quantized_weight_bytes": weight_bytes(args.out),
    }
    metrics["weight_compression"] = round(
        metrics["merged_weight_bytes"] / max(metrics["quantized_weight_bytes"], 1), 3
    )
    write_json(args.metrics, metrics)
    log.info(
        "merged %.1f MB → %s %.1f MB",
        metrics["merged_bytes"] / 1e6,
        params.quantize.method,
        metrics["quantized_bytes"] / 1e6,
    )


if __name__ == "__main__":
    main()
