"""BLIP-2 and InstructBLIP: a frozen-LLM VLM answering a text prompt, behind the VQAModel interface.

The question goes into the prompt "Question: {question} Answer:" (BLIP-2's own VQA format) and the
model continues it. The processor puts `num_query_tokens` image placeholders in front of the
prompt's tokens; the model swaps the Q-Former's outputs in for them. InstructBLIP's Q-Former also
reads the prompt (never the answer). Both decoder-only language models (OPT, Vicuna) and
encoder-decoder ones (Flan-T5) are handled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from abo_vqa.models.adapter import GenerativeVQAModel
from abo_vqa.models.base import as_rgb
from abo_vqa.models.labels import IGNORE_INDEX, answer_suffix_ids, suffix_labels
from abo_vqa.models.loading import (
    Placement,
    check_pairs,
    load_pretrained,
    unwrap,
)

PROMPT = "Question: {question} Answer:"
"""BLIP-2's zero-shot VQA prompt (from its paper and model card)."""


class PromptedVQAModel(GenerativeVQAModel):
    """A Blip2/InstructBlipForConditionalGeneration with its processor (see `base.VQAModel`)."""

    def __init__(
        self,
        family: str,
        model: torch.nn.Module,
        processor: Any,
        device: torch.device,
        prompt: str = PROMPT,
    ):
        if "{question}" not in prompt:
            raise ValueError(f"prompt {prompt!r} has no {{question}} slot")
        super().__init__(model, processor, device)
        self.family = family
        self.prompt = prompt

    def _encoder_decoder(self) -> bool:
        return not unwrap(self.model).config.use_decoder_only_language_model

    def prompt_texts(self, questions: Sequence[str]) -> list[str]:
        """The text prompt of each question."""
        return [self.prompt.format(question=question) for question in questions]

    def encode(
        self,
        images: Sequence[Image.Image],
        texts: Sequence[str],
        *,
        padding_side: str,
        qformer_texts: Sequence[str] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Processor inputs on the model's device: pixels, image placeholders + `texts`.

        InstructBLIP's Q-Former reads `qformer_texts` (the prompts: never the answer),
        right-padded whatever `padding_side` is: it is a BERT with absolute positions, and left
        padding would shift them and change its output with the batch.
        """
        batch = self.processor_inputs(as_rgb(images), texts, padding_side=padding_side)
        if "qformer_input_ids" in batch:
            qformer = self.processor.qformer_tokenizer(
                list(qformer_texts if qformer_texts is not None else texts),
                padding=True,
                padding_side="right",
                return_tensors="pt",
            )
            batch["qformer_input_ids"] = qformer["input_ids"]
            batch["qformer_attention_mask"] = qformer["attention_mask"]
        return self.on_model(batch)

    def training_batch(
        self, images: Sequence[Image.Image], questions: Sequence[str], answers: Sequence[str]
    ) -> dict[str, torch.Tensor]:
        """Inputs for `model(**batch)` whose loss is the answer's (and its end token's) only.

        Decoder-only: one sequence "prompt answer</s>", right-padded, labels -100 except on the
        answer and end tokens. Encoder-decoder: the prompt is the encoder's input and the
        answer the labels.
        """
        check_pairs(images, questions, answers)
        prompts = self.prompt_texts(questions)
        if self._encoder_decoder():
            batch = self.encode(images, prompts, padding_side="right")
            targets = self.tokenizer(
                list(answers), padding=True, padding_side="right", return_tensors="pt"
            )
            labels = targets["input_ids"].masked_fill(targets["attention_mask"] == 0, IGNORE_INDEX)
            return {**batch, "labels": labels.to(self.device)}
        texts = [
            f"{p} {a}{self.tokenizer.eos_token}" for p, a in zip(prompts, answers, strict=True)
        ]
        suffixes = [
            answer_suffix_ids(self.tokenizer, p, t) for p, t in zip(prompts, texts, strict=True)
        ]
        batch = self.encode(images, texts, padding_side="right", qformer_texts=prompts)
        batch["labels"] = suffix_labels(batch["input_ids"], batch["attention_mask"], suffixes)
        return batch

    def continuation(self, ids: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        # A decoder-only model returns prompt + continuation; an encoder-decoder only the latter.
        return ids if self._encoder_decoder() else super().continuation(ids, batch)


def load_prompted(name_or_path: str, placement: Placement, *, family: str) -> PromptedVQAModel:
    """Load a BLIP-2 (`family="blip2"`) or InstructBLIP (`"instructblip"`) model + processor."""
    from transformers import (
        AutoProcessor,
        Blip2ForConditionalGeneration,
        InstructBlipForConditionalGeneration,
    )

    classes = {
        "blip2": Blip2ForConditionalGeneration,
        "instructblip": InstructBlipForConditionalGeneration,
    }
    if family not in classes:
        raise ValueError(f"prompted model family {family!r} is not one of {list(classes)}")
    model, processor, inputs_on = load_pretrained(
        classes[family], AutoProcessor, name_or_path, placement
    )
    if getattr(processor, "num_query_tokens", None) is None:
        # Processors saved before transformers 4.47 carry no query-token count; without it no
        # image placeholders are inserted and the model would never see the image.
        processor.num_query_tokens = model.config.num_query_tokens
    return PromptedVQAModel(family, model, processor, inputs_on)
