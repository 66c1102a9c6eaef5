"""ViLT (`ViltForQuestionAnswering`): VQA as classification over a fixed answer set.

The model scores every label of `config.id2label` (3,129 VQAv2 answers for the hub's
`dandelin/vilt-b32-finetuned-vqa`); `predict` returns the best label. Training uses ViLT's own
loss, binary cross-entropy over all labels against a target vector that is 1 at the answer's label.

An answer outside the label set cannot be predicted. Its target row stays all zero, as in
ViLT's VQAv2 training, where answers outside the answer vocabulary score zero on every label:
the example still teaches the model to lower its scores. Such answers are counted in
`unknown_answers`, and `label_coverage` measures a dataset before training.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from PIL import Image

from abo_vqa.models.adapter import HFVQAModel
from abo_vqa.models.base import as_rgb
from abo_vqa.models.loading import (
    Placement,
    check_pairs,
    input_dtype,
    load_pretrained,
)

CLASSIFIER = "classifier"
"""ViltForQuestionAnswering's answer head (Linear, LayerNorm, GELU, Linear)."""


def label_key(answer: str) -> str:
    """How an answer is looked up among the labels (VQAv2 labels are lowercase)."""
    return answer.strip().lower()


def answer_targets(
    answers: Sequence[str], label2id: Mapping[str, int], num_labels: int
) -> tuple[torch.Tensor, list[str]]:
    """(targets (B, num_labels) with 1.0 at each answer's label, answers without a label).

    The row of an answer without a label is all zero.
    """
    targets = torch.zeros(len(answers), num_labels)
    unknown = []
    for row, answer in enumerate(answers):
        label = label2id.get(label_key(answer))
        if label is None:
            unknown.append(answer)
        else:
            targets[row, label] = 1.0
    return targets, unknown


def label_coverage(answers: Sequence[str], label2id: Mapping[str, int]) -> float:
    """The fraction of `answers` ViLT can predict at all (1.0 for no answers)."""
    if not answers:
        return 1.0
    return sum(label_key(answer) in label2id for answer in answers) / len(answers)


class ViltVQAModel(HFVQAModel):
    """A ViltForQuestionAnswering with its processor (see `abo_vqa.models.base.VQAModel`).

    `lora_modules_to_save`: modules PEFT trains in full beside the LoRA adapters (its
    `modules_to_save`): the answer head, as usual when a classifier is fine-tuned with LoRA.
    """

    family = "vilt"
    lora_modules_to_save: tuple[str, ...] = (CLASSIFIER,)

    def __init__(self, model: torch.nn.Module, processor: Any, device: torch.device):
        super().__init__(model, processor, device)
        config = model.config
        self.label2id = {label_key(label): int(i) for label, i in config.label2id.items()}
        self.id2label = {int(i): label for i, label in config.id2label.items()}
        self.unknown_answers: Counter[str] = Counter()
        """Answers seen by `training_batch` that have no label (their targets are all zero)."""

    @property
    def lora_exclude_modules(self) -> tuple[str, ...]:
        # Nothing to exclude: no tied weights, and PEFT already keeps LoRA out of the modules
        # it trains whole (`lora_modules_to_save`).
        return ()

    def encode(
        self, images: Sequence[Image.Image], questions: Sequence[str]
    ) -> dict[str, torch.Tensor]:
        """Token ids, pixels and pixel mask (images of different shapes are padded)."""
        return self.on_model(self.processor_inputs(as_rgb(images), questions, truncation=True))

    def training_batch(
        self, images: Sequence[Image.Image], questions: Sequence[str], answers: Sequence[str]
    ) -> dict[str, torch.Tensor]:
        """Inputs with `labels`: the (B, num_labels) targets of `answer_targets`."""
        check_pairs(images, questions, answers)
        targets, unknown = answer_targets(answers, self.label2id, len(self.id2label))
        self.unknown_answers.update(unknown)
        batch = self.encode(images, questions)
        return {**batch, "labels": targets.to(self.device, input_dtype(self.model))}

    def answer_batch(
        self, images: Sequence[Image.Image], questions: Sequence[str], max_new_tokens: int
    ) -> list[str]:
        """The highest-scoring label per question (`max_new_tokens` does not apply)."""
        best = self.model(**self.encode(images, questions)).logits.argmax(dim=-1).tolist()
        return [self.id2label[label] for label in best]


def head_unquantized(quantization_config: Any) -> Any:
    """A copy of a bitsandbytes config that leaves the answer head in full precision.

    Transformers keeps a generative model's output head unquantized by itself, but it does not
    recognise ViLT's classifier as one. Its last layer (3,129 outputs) also fits no 4-bit CPU
    kernel, whose output widths must be multiples of the kernel's block.
    """
    if quantization_config is None or not hasattr(quantization_config, "llm_int8_skip_modules"):
        return quantization_config
    kept = copy.deepcopy(quantization_config)
    kept.llm_int8_skip_modules = [*(kept.llm_int8_skip_modules or []), CLASSIFIER]
    return kept


def load_vilt(name_or_path: str, placement: Placement) -> ViltVQAModel:
    """Load a ViLT VQA model and its processor from a hub id or a local directory."""
    from transformers import AutoProcessor, ViltForQuestionAnswering

    config = head_unquantized(placement.quantization_config)
    placement = dataclasses.replace(placement, quantization_config=config)
    loaded = load_pretrained(ViltForQuestionAnswering, AutoProcessor, name_or_path, placement)
    return ViltVQAModel(*loaded)
