"""Merge a LoRA adapter into its base and quantize the result with bitsandbytes.

bitsandbytes ≥ 0.46 runs NF4/FP4 and int8 on the CPU as well (GUIDE §4), so the same code path
serves a laptop and a GPU box. NF4 with double quantization is the reports' configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from peft import PeftModel

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
    """The BitsAndBytesConfig for a method, or None for no quantization."""
    from transformers import BitsAndBytesConfig

    if params.method == "none":
        return None
    if params.method == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=params.method,  # "nf4" or "fp4"; bitsandbytes defaults to fp4
        bnb_4bit_use_double_quant=params.double_quant,
        bnb_4bit_compute_dtype=DTYPES[params.compute_dtype],
    )


def directory_size(path: Path) -> int:
    """Bytes of all files under `path`."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def weight_bytes(path: Path) -> int:
    """Bytes of the weight files only (what quantization shrinks)."""
    return sum(f.stat().st_size for f in Path(path).rglob("*.safetensors"))
