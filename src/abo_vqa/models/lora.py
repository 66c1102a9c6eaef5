"""What training, quantization and evaluation share about adapters and quantized loading: a saved
LoRA adapter attached to a model, and the bitsandbytes config of a quantization method (QLoRA
training loads its frozen base with one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peft import PeftModel

from abo_vqa.models.base import DTYPES
from abo_vqa.params import QuantizeParams


def attach_adapter(vqa_model: Any, adapter_dir: Path) -> Any:
    """Load a saved LoRA adapter onto `vqa_model.model` in place; returns the same VQAModel."""
    vqa_model.model = PeftModel.from_pretrained(vqa_model.model, str(adapter_dir))
    vqa_model.model.eval()
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
