"""Merge a LoRA adapter into its base, quantize the result, and measure what quantization costs.

bitsandbytes ≥ 0.46 runs NF4/FP4 and int8 on the CPU as well (GUIDE §4), so the same code path
serves a laptop and a GPU box. NF4 with double quantization is the reports' configuration; the other
variants are measured beside it so that the trade-off is a table, not a guess.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from PIL import Image

from abo_vqa.params import QuantizeParams

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def attach_adapter(vqa_model: Any, adapter_dir: Path) -> Any:
    """Load a saved LoRA adapter onto `vqa_model.model` in place; returns the same VQAModel."""
    vqa_model.model = PeftModel.from_pretrained(vqa_model.model, str(adapter_dir))
    vqa_model.model.eval()
    return vqa_model


def merge_adapter(vqa_model: Any) -> Any:
    """Fold the LoRA weights into the base weights (the model then needs no peft at load)."""
    vqa_model.model = vqa_model.model.merge_and_unload()
    return vqa_model


def bnb_config(params: QuantizeParams) -> Any | None:
    """The BitsAndBytesConfig for a bitsandbytes method, or None for the others."""
    from transformers import BitsAndBytesConfig

    if params.method == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    if params.method in ("nf4", "fp4"):
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=params.method,  # bitsandbytes defaults to fp4 unless told
            bnb_4bit_use_double_quant=params.double_quant,
            bnb_4bit_compute_dtype=DTYPES[params.compute_dtype],
        )
    return None


def load_variant(merged_dir: Path, params: QuantizeParams, family: str) -> Any:
    """The merged model loaded as `params.method` prescribes."""
    from abo_vqa.models import load_vqa_model

    dtype = "bfloat16" if params.method == "bf16" else "float32"
    return load_vqa_model(
        str(merged_dir), family=family, dtype=dtype, quantization_config=bnb_config(params)
    )


def directory_size(path: Path) -> int:
    """Bytes of all files under `path`."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def weight_bytes(path: Path) -> int:
    """Bytes of the weight files only (what quantization shrinks)."""
    return sum(f.stat().st_size for f in Path(path).rglob("*.safetensors"))


def batch_latency_s(
    vqa_model: Any, images: Sequence[Image.Image], questions: Sequence[str], repeats: int = 3
) -> float:
    """Median wall time of predicting one batch (after one warm-up call)."""
    vqa_model.predict(images, questions, batch_size=len(questions))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        vqa_model.predict(images, questions, batch_size=len(questions))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_variants(
    merged_dir: Path,
    params: QuantizeParams,
    *,
    family: str,
    rows: Sequence[Mapping[str, str]],
    images: Mapping[str, Image.Image],
    exact_match: Any,
) -> dict[str, dict[str, Any]]:
    """Size on disk, memory footprint, batch latency and exact match of every compared variant.

    `exact_match(vqa_model) -> float` scores a model on `rows`; the change is reported against
    the unquantized merged model ("none"). Timing fields vary run to run; the rest is exact.
    """
    methods = list(dict.fromkeys(["none", *params.compare, params.method]))
    batch = list(rows[: params.latency_batch_size])
    batch_images = [images[row["image_id"]] for row in batch]
    batch_questions = [row["question"] for row in batch]
    results: dict[str, dict[str, Any]] = {}
    for method in methods:
        variant = dataclasses.replace(params, method=method)
        vqa_model = load_variant(merged_dir, variant, family)
        with tempfile.TemporaryDirectory() as scratch:
            vqa_model.save(Path(scratch))
            size = weight_bytes(Path(scratch))
        results[method] = {
            "weight_bytes": size,
            "memory_footprint_bytes": int(vqa_model.model.get_memory_footprint()),
            "batch_latency_s": round(batch_latency_s(vqa_model, batch_images, batch_questions), 4),
            "exact_match": round(exact_match(vqa_model), 4),
        }
        del vqa_model
    reference = results["none"]
    for result in results.values():
        result["exact_match_change"] = round(result["exact_match"] - reference["exact_match"], 4)
        result["size_ratio"] = round(result["weight_bytes"] / reference["weight_bytes"], 4)
    return results
