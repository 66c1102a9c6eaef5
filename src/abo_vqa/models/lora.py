"""What training, quantization and evaluation share about adapters and quantized loading: a saved
LoRA adapter attached to a model, and the bitsandbytes config of a quantization method (QLoRA
training loads its frozen base with one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peft import PeftModel

from abo_vqa.models.base import DTYPES
from abo_vqa.models.blip import TIED_OUTPUT_HEAD
from abo_vqa.models.source import reported_hub_failures, require_folder_or_hub_id
from abo_vqa.models.vocab import adopt_vocabulary
from abo_vqa.params import QuantizeParams

ADAPTER_FIX = "`dvc repro train_lora` builds the pipeline's adapter (models/adapter)"
ADAPTER_HUB_FIX = "use a saved adapter folder instead (`dvc repro train_lora` builds one)"
ADAPTER_MARKER = "adapter_config.json"
"""The file every saved PEFT adapter folder holds."""


def attach_adapter(vqa_model: Any, adapter_dir: Path) -> Any:
    """Load a saved LoRA adapter onto `vqa_model.model` in place; returns the same VQAModel.

    Exactly what the adapter's card tells a user to do, with no step of our own: the processor
    from the adapter folder, the base resized to its tokenizer (`abo_vqa.models.vocab`), then
    `PeftModel.from_pretrained`. A missing adapter folder, or a hub id that cannot be fetched,
    raises `ModelSourceError`.
    """
    name = str(adapter_dir)
    require_folder_or_hub_id(
        name, what="adapter", fix=ADAPTER_FIX, hub_fix=ADAPTER_HUB_FIX, marker=ADAPTER_MARKER
    )
    with reported_hub_failures(name, what="adapter", fix=ADAPTER_HUB_FIX):
        adopt_vocabulary(vqa_model, adapter_dir)
        vqa_model.model = PeftModel.from_pretrained(vqa_model.model, name)
    vqa_model.model.eval()
    return vqa_model


FULL_PRECISION_MODULES: dict[str, tuple[str, ...]] = {"blip": (TIED_OUTPUT_HEAD,)}
"""Modules bitsandbytes leaves unquantized, by model family: the output head, as transformers
itself keeps a language model's `lm_head` (it finds no output head on BLIP's top-level model, so
it has to be named). Quantized to 4 bits, BLIP's head changed 81 of the embedded default's 350
test answers against the adapter's (nf4; 17 with the head kept, for 0.3 MB more)."""


def bnb_config(params: QuantizeParams, *, family: str) -> Any | None:
    """The BitsAndBytesConfig for a bitsandbytes method, or None for the others. It is saved in
    the quantized model's config.json, so loading the folder quantizes alike."""
    from transformers import BitsAndBytesConfig

    keep = list(FULL_PRECISION_MODULES.get(family, ())) or None
    if params.method == "int8":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=keep)
    if params.method in ("nf4", "fp4"):
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=params.method,  # bitsandbytes defaults to fp4 unless told
            bnb_4bit_use_double_quant=params.double_quant,
            bnb_4bit_compute_dtype=DTYPES[params.compute_dtype],
            llm_int8_skip_modules=keep,  # despite its name, the 4-bit path reads it too
        )
    return None
