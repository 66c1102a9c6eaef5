"""The interface every model adapter offers, and the dtype/device rules they share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


class VQAModel(Protocol):
    """A vision-language model that answers questions about images.

    `model` is the Hugging Face module; callers may replace it by a PEFT wrapper of itself, and
    `predict`/`training_batch` keep working on whatever it is at call time.
    """

    family: str
    model: torch.nn.Module
    processor: Any
    device: torch.device
    lora_modules_to_save: tuple[str, ...]
    """Modules PEFT trains in full beside the LoRA adapters (e.g. ViLT's classifier)."""

    @property
    def lora_exclude_modules(self) -> tuple[str, ...]:
        """Module names an all-linear LoRA must leave alone (e.g. a tied output head)."""
        ...

    def predict(
        self,
        images: Sequence[Image.Image],
        questions: Sequence[str],
        *,
        batch_size: int = 32,
        max_new_tokens: int = 5,
    ) -> list[str]:
        """Greedy answers, one raw decoded string per question, in order."""
        ...

    def training_batch(
        self, images: Sequence[Image.Image], questions: Sequence[str], answers: Sequence[str]
    ) -> dict[str, torch.Tensor]:
        """Model inputs with `labels` (-100 where there is no answer token) for `model(**batch)`."""
        ...

    def save(self, path: str | Path) -> None:
        """Write model and processor so that `load_vqa_model(path)` restores them."""
        ...


def resolve_device(device: str) -> torch.device:
    """The device `device` names; "auto" is CUDA when there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """The dtype `dtype` names; "auto" is float32 on CPU (half precision is slow there), and on
    CUDA bfloat16 where supported, else float16."""
    if dtype == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not one of {['auto', *DTYPES]}")
    return DTYPES[dtype]


def as_rgb(images: Sequence[Image.Image]) -> list[Image.Image]:
    """The images in RGB (catalogue files include palette, greyscale and RGBA images)."""
    return [image if image.mode == "RGB" else image.convert("RGB") for image in images]


def batched_predict(
    model: torch.nn.Module,
    images: Sequence[Image.Image],
    questions: Sequence[str],
    batch_size: int,
    answer_batch: Callable[[Sequence[Image.Image], Sequence[str]], list[str]],
    length_of: Callable[[str], int] | None = None,
) -> list[str]:
    """Answers for every question, `batch_size` at a time, with `model` in eval mode throughout.

    `answer_batch` turns one slice of images and questions into final answer strings; every
    adapter's `predict` is this loop around its own encoding and decoding. With `length_of` (a
    question's length in tokens), a batch only holds questions of one length, so none is padded
    and an answer cannot depend on the other questions in its batch; answers come back in the
    order asked. The model's previous train/eval mode is restored afterwards, also when a batch
    fails.
    """
    if len(images) != len(questions):
        raise ValueError(f"{len(images)} images but {len(questions)} questions")
    lengths = [length_of(question) for question in questions] if length_of else None
    answers: list[str | None] = [None] * len(questions)
    with eval_mode(model), torch.no_grad():
        for batch in plan_batches(len(questions), batch_size, lengths):
            asked = answer_batch([images[i] for i in batch], [questions[i] for i in batch])
            for index, answer in zip(batch, asked, strict=True):
                answers[index] = answer
    return answers  # type: ignore[return-value]  # every index was filled


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """`model` in eval mode inside the block; its previous train/eval mode restored after it,
    also when the block fails."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def plan_batches(
    count: int, batch_size: int, lengths: Sequence[int] | None = None
) -> list[list[int]]:
    """Indices 0..count-1 in batches of at most `batch_size`: consecutive slices, or, with
    `lengths` (one per index), slices of each group of equal length, the groups in order of
    first appearance."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    groups: dict[int, list[int]] = {}
    for index in range(count):
        groups.setdefault(lengths[index] if lengths is not None else 0, []).append(index)
    return [
        group[start : start + batch_size]
        for group in groups.values()
        for start in range(0, len(group), batch_size)
    ]


@dataclass(frozen=True)
class PredictSteps:
    """A model's `predict` cut into three steps, so that a caller streaming many rows can run
    the first on a worker thread, ahead of the model, and the second once per distinct image
    however many questions ask about it (see `abo_vqa.streaming`).

    Answers from the steps equal `predict`'s for the same batches.
    """

    prepare_images: Callable[[Sequence[Image.Image]], Any]
    """CPU-side preparation of decoded images (no model involved; safe on another thread)."""
    encode_images: Callable[[Any], Sequence[Any]]
    """The model's reading of prepared images: one item per image, in order."""
    answer: Callable[[Sequence[Any], Sequence[str], int], list[str]]
    """(one encoded image per question, questions, max_new_tokens) -> raw answers, one batch."""
    question_lengths: Callable[[Sequence[str]], list[int]] | None = None
    """Token lengths: when given, a batch holds questions of one length only (see
    `batched_predict`)."""


def predict_steps(vqa_model: Any) -> PredictSteps:
    """The model's own `PredictSteps` (`vqa_model.predict_steps()`), or steps that keep the
    decoded images as they are and answer each batch with `predict`."""
    own = getattr(vqa_model, "predict_steps", None)
    if own is not None:
        return own()

    def answer(images: Sequence[Any], questions: Sequence[str], max_new_tokens: int) -> list[str]:
        return vqa_model.predict(
            images, questions, batch_size=len(questions), max_new_tokens=max_new_tokens
        )

    return PredictSteps(prepare_images=as_rgb, encode_images=list, answer=answer)
