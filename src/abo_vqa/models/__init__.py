"""Vision-language model adapters behind one small interface.

`load_vqa_model(name_or_path, family=...)` returns a `VQAModel`: the Hugging Face model, its
processor, batched greedy `predict`, and `training_batch` (the collate train_lora uses, with answer
labels and -100 on everything that is not answer).
"""

from __future__ import annotations

from typing import Any

from abo_vqa.models.base import VQAModel
from abo_vqa.models.loading import Placement
from abo_vqa.models.source import reported_hub_failures, require_folder_or_hub_id

FAMILIES: tuple[str, ...] = ("blip", "vilt", "blip2", "instructblip", "chat")
"""blip: BlipForQuestionAnswering. vilt: ViltForQuestionAnswering (a classifier over its answer
set). blip2, instructblip: prompted generation. chat: any chat VLM of AutoModelForImageTextToText
(LLaVA-1.5, Qwen2-VL, Qwen2.5-VL, SmolVLM/Idefics3, ...)."""

__all__ = ["FAMILIES", "VQAModel", "load_vqa_model"]


def load_vqa_model(
    name_or_path: str,
    *,
    family: str = "blip",
    dtype: str = "auto",
    device: str = "auto",
    quantization_config: Any = None,
) -> VQAModel:
    """Load a model of `family` from a hub id or a local directory (never the hub for a dir).

    `dtype`: "auto" (float32 on CPU; bfloat16, or float16, on CUDA), "float32", "bfloat16" or
    "float16". `quantization_config`: e.g. a transformers BitsAndBytesConfig. A missing folder, or
    a hub id that cannot be fetched, raises `ModelSourceError` (an `InputError`: one line).
    """
    if family not in FAMILIES:
        raise ValueError(f"model family {family!r} is not one of {list(FAMILIES)}")
    require_folder_or_hub_id(name_or_path)
    with reported_hub_failures(name_or_path):
        return _load_family(name_or_path, family, Placement(dtype, device, quantization_config))


def _load_family(name_or_path: str, family: str, placement: Placement) -> VQAModel:
    # Each family's module is imported only when asked for: transformers takes seconds to
    # import, and importing this package for the VQAModel type should not.
    if family == "blip":
        from abo_vqa.models.blip import load_blip

        return load_blip(name_or_path, placement)
    if family == "vilt":
        from abo_vqa.models.vilt import load_vilt

        return load_vilt(name_or_path, placement)
    if family in ("blip2", "instructblip"):
        from abo_vqa.models.prompted import load_prompted

        return load_prompted(name_or_path, placement, family=family)
    if family == "chat":
        from abo_vqa.models.chat import load_chat

        return load_chat(name_or_path, placement)
    raise AssertionError(f"family {family!r} has no loader")  # FAMILIES and this list disagree
