"""Chat VLMs (LLaVA-1.5, Qwen2-VL, Qwen2.5-VL, SmolVLM/Idefics3, ...) behind the VQAModel interface.

Any model `AutoModelForImageTextToText` loads and whose `AutoProcessor` has a chat template works:
the user turn is the image followed by the question and an instruction to answer in one word
(chat models otherwise answer in sentences and fail exact match); the assistant turn is the
answer. The model's own chat template renders both, and its processor expands the image
placeholder into however many image tokens the model uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from abo_vqa.models.adapter import GenerativeVQAModel
from abo_vqa.models.base import as_rgb
from abo_vqa.models.labels import answer_suffix_ids, close_answer_turn, suffix_labels
from abo_vqa.models.loading import (
    Placement,
    check_pairs,
    load_pretrained,
)

INSTRUCTION = "Answer with one word."
"""Appended to every question (LLaVA-1.5's short-answer VQA prompt ends the same way)."""


def conversation(question: str, instruction: str, answer: str | None = None) -> list[dict]:
    """The chat messages of one example: user (image, question + instruction), then, when
    `answer` is given, the assistant's answer."""
    messages: list[dict] = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": f"{question} {instruction}"}],
        }
    ]
    if answer is not None:
        messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return messages


class ChatVQAModel(GenerativeVQAModel):
    """An image-text-to-text chat model with its processor (see `base.VQAModel`)."""

    family = "chat"

    def __init__(
        self,
        model: torch.nn.Module,
        processor: Any,
        device: torch.device,
        instruction: str = INSTRUCTION,
    ):
        if getattr(processor, "chat_template", None) is None:
            raise ValueError(f"{type(processor).__name__} has no chat template")
        super().__init__(model, processor, device)
        self.instruction = instruction

    def prompt_texts(self, questions: Sequence[str]) -> list[str]:
        return self.render(questions)

    def render(self, questions: Sequence[str], answers: Sequence[str] | None = None) -> list[str]:
        """Chat-template texts: prompts ending in the assistant's turn header when `answers`
        is None, else whole conversations ending with the closed answer turn."""
        if answers is None:
            conversations = [conversation(q, self.instruction) for q in questions]
            return self.processor.apply_chat_template(conversations, add_generation_prompt=True)
        prompts = self.render(questions)
        conversations = [
            conversation(q, self.instruction, a) for q, a in zip(questions, answers, strict=True)
        ]
        texts = self.processor.apply_chat_template(conversations)
        end_markers = self._end_markers()
        eos = self.tokenizer.eos_token or ""
        return [
            close_answer_turn(prompt, text, end_markers, eos)
            for prompt, text in zip(prompts, texts, strict=True)
        ]

    def _end_markers(self) -> list[str]:
        """Special tokens a template may end the assistant turn with (<|im_end|>, </s>, ...)."""
        added = self.tokenizer.added_tokens_decoder.values()
        return [*self.tokenizer.all_special_tokens, *(t.content for t in added if t.special)]

    def encode(
        self, images: Sequence[Image.Image], texts: Sequence[str], *, padding_side: str
    ) -> dict[str, torch.Tensor]:
        """Processor inputs on the model's device for rendered `texts`, one image each."""
        bos = self.tokenizer.bos_token
        batch = self.processor_inputs(
            [[image] for image in as_rgb(images)],
            texts,
            padding_side=padding_side,
            # Templates that write BOS themselves must not get a second one (the processor's
            # own apply_chat_template follows the same rule).
            add_special_tokens=not (bos and texts and texts[0].startswith(bos)),
        )
        return self.on_model(batch)

    def training_batch(
        self, images: Sequence[Image.Image], questions: Sequence[str], answers: Sequence[str]
    ) -> dict[str, torch.Tensor]:
        """Right-padded conversations with labels on the answer and its end-of-turn token only
        (system and user turns, image tokens, the assistant header and padding are -100)."""
        check_pairs(images, questions, answers)
        prompts = self.render(questions)
        texts = self.render(questions, answers)
        suffixes = [
            answer_suffix_ids(self.tokenizer, p, t) for p, t in zip(prompts, texts, strict=True)
        ]
        batch = self.encode(images, texts, padding_side="right")
        batch["labels"] = suffix_labels(batch["input_ids"], batch["attention_mask"], suffixes)
        return batch


def load_chat(name_or_path: str, placement: Placement) -> ChatVQAModel:
    """Load a chat VLM (`AutoModelForImageTextToText`) and its processor."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    loaded = load_pretrained(AutoModelForImageTextToText, AutoProcessor, name_or_path, placement)
    return ChatVQAModel(*loaded)
