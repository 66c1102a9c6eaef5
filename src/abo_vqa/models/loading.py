"""Loading, placing and feeding a Hugging Face model: the rules every adapter but BLIP's shares.

Precision follows `base.resolve_dtype` (float32 on CPU, bfloat16/float16 on CUDA). Placement:
"auto" on a CUDA machine lets accelerate spread the weights (`device_map="auto"`), so a 7B model
fits where it can; an explicit device, or a quantized model, is placed while loading; on the CPU
the model is simply loaded there. A local directory never consults the hub.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from abo_vqa.models.base import resolve_device, resolve_dtype


@dataclass(frozen=True)
class Placement:
    """How a model's weights are loaded, the same for every family's loader."""

    dtype: str = "auto"
    """"auto", "float32", "bfloat16" or "float16" (see `base.resolve_dtype`)."""
    device: str = "auto"
    """"auto" (CUDA when there is one), "cpu", "cuda", "cuda:1", ..."""
    quantization_config: Any = None
    """E.g. a transformers BitsAndBytesConfig; None loads the weights unquantized."""


def pretrained_kwargs(
    name_or_path: str,
    *,
    dtype: str = "auto",
    device: str = "auto",
    quantization_config: Any = None,
) -> dict[str, Any]:
    """Keyword arguments for `from_pretrained` (model side) under the rules above."""
    target = resolve_device(device)
    kwargs: dict[str, Any] = {"dtype": resolve_dtype(dtype, target)}
    if Path(name_or_path).is_dir():
        kwargs["local_files_only"] = True
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
    if target.type == "cuda" and device == "auto":
        kwargs["device_map"] = "auto"
    elif quantization_config is not None or target.type == "cuda":
        # Quantized weights cannot be moved after loading: place them while loading.
        kwargs["device_map"] = {"": str(target)}
    return kwargs


def load_pretrained(
    model_class: Any,
    processor_class: Any,
    name_or_path: str,
    placement: Placement,
) -> tuple[torch.nn.Module, Any, torch.device]:
    """(model in eval mode, processor, device the inputs go to) from a hub id or a directory."""
    kwargs = pretrained_kwargs(
        name_or_path,
        dtype=placement.dtype,
        device=placement.device,
        quantization_config=placement.quantization_config,
    )
    model = model_class.from_pretrained(name_or_path, **kwargs)
    if "device_map" not in kwargs:
        model = model.to(resolve_device(placement.device))
    model.eval()
    local = {"local_files_only": True} if kwargs.get("local_files_only") else {}
    processor = processor_class.from_pretrained(name_or_path, **local)
    return model, processor, input_device(model)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The Hugging Face model itself, also after PEFT has wrapped it."""
    get_base_model = getattr(model, "get_base_model", None)
    return get_base_model() if callable(get_base_model) else model


def output_head_name(model: torch.nn.Module) -> str | None:
    """The dotted name of the model's output projection (the LM head), if it has one."""
    head = model.get_output_embeddings()
    if head is None:
        return None
    return next((name for name, module in model.named_modules() if module is head), None)


def input_device(model: torch.nn.Module) -> torch.device:
    """Where token ids must live: beside the input embeddings (the first shard of a split model)."""
    return unwrap(model).get_input_embeddings().weight.device


def input_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype float inputs (pixels) are cast to: the embeddings' dtype, which is the compute
    dtype also when the linear layers are quantized (bitsandbytes leaves embeddings alone)."""
    return unwrap(model).get_input_embeddings().weight.dtype


def to_model(
    batch: Mapping[str, Any], device: torch.device, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """The batch's tensors on `device`, floating ones cast to `dtype`; non-tensors dropped."""
    moved = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            moved[key] = value.to(device, dtype) if value.is_floating_point() else value.to(device)
    return moved


def check_pairs(images: Any, questions: Any, answers: Any = None) -> None:
    """Reject inputs whose lengths disagree (a silent zip would drop examples)."""
    if len(images) != len(questions):
        raise ValueError(f"{len(images)} images but {len(questions)} questions")
    if answers is not None and len(answers) != len(questions):
        raise ValueError(f"{len(questions)} questions but {len(answers)} answers")
