"""The shared body of the model adapters: a Hugging Face model with its processor, saved
together; and, for the adapters that answer by continuing a text prompt (prompted, chat), greedy
generation and decoding of the continuation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from abo_vqa.models.base import batched_predict
from abo_vqa.models.loading import input_dtype, output_head_name, to_model, unwrap


class HFVQAModel:
    """A Hugging Face model, its processor and the device it runs on (see `base.VQAModel`)."""

    family: str
    lora_modules_to_save: tuple[str, ...] = ()
    """Modules PEFT trains in full beside the LoRA adapters (its `modules_to_save`)."""

    question_length: Callable[[str], int] | None = None
    """A question's length in tokens, for a family whose answers must not depend on padding
    (see `batched_predict`); None lets a batch mix lengths."""

    def __init__(self, model: torch.nn.Module, processor: Any, device: torch.device):
        self.model = model
        self.processor = processor
        self.device = device

    def save(self, path: str | Path) -> None:
        """Write model and processor so that `load_vqa_model(path)` restores them."""
        self.model.save_pretrained(str(path))
        self.processor.save_pretrained(str(path))

    def processor_inputs(
        self, images: Sequence[Any], texts: Sequence[str], **options: Any
    ) -> Mapping[str, Any]:
        """The processor's padded PyTorch inputs for `images` (in RGB, in the layout the
        processor wants) and `texts`; `options` are the family's own (padding_side, ...)."""
        return self.processor(
            images=images, text=list(texts), padding=True, return_tensors="pt", **options
        )

    def on_model(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """`batch`'s tensors on the model's device, floating ones (pixels) in its input dtype."""
        return to_model(batch, self.device, input_dtype(self.model))

    def merge_adapter(self) -> None:
        """Fold the attached PEFT adapter into the weights (the model then loads without peft)."""
        self.model = self.model.merge_and_unload()

    def predict(
        self,
        images: Sequence[Image.Image],
        questions: Sequence[str],
        *,
        batch_size: int = 32,
        max_new_tokens: int = 5,
    ) -> list[str]:
        """Raw answers, one per question, in order: `answer_batch` on batches of at most
        `batch_size` (each of one question length when `question_length` is given)."""
        answer_batch = partial(self.answer_batch, max_new_tokens=max_new_tokens)
        return batched_predict(
            self.model, images, questions, batch_size, answer_batch, self.question_length
        )

    def answer_batch(
        self, images: Sequence[Image.Image], questions: Sequence[str], max_new_tokens: int
    ) -> list[str]:
        """Raw answers to one batch (the model already in eval mode, without gradients)."""
        raise NotImplementedError


class GenerativeVQAModel(HFVQAModel):
    """An adapter whose answer is the greedy continuation of a text prompt. Subclasses say how
    questions become prompts (`prompt_texts`) and how prompts and images become inputs
    (`encode`)."""

    def __init__(self, model: torch.nn.Module, processor: Any, device: torch.device):
        super().__init__(model, processor, device)
        self._output_head = output_head_name(model)

    @property
    def lora_exclude_modules(self) -> tuple[str, ...]:
        # Many language models tie the output head to the input embeddings (OPT, T5,
        # Qwen2-VL-2B): a LoRA on it would change the embeddings too once merged.
        return (self._output_head,) if self._output_head else ()

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    def prompt_texts(self, questions: Sequence[str]) -> list[str]:
        """The text the model continues, one per question."""
        raise NotImplementedError

    def encode(
        self, images: Sequence[Image.Image], texts: Sequence[str], *, padding_side: str
    ) -> dict[str, torch.Tensor]:
        """Processor inputs on the model's device: one image and one text each."""
        raise NotImplementedError

    def continuation(self, ids: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The generated ids without the prompt (a decoder-only model returns both)."""
        return ids[:, batch["input_ids"].shape[1] :]

    @torch.no_grad()
    def _generate(self, batch: dict[str, torch.Tensor], max_new_tokens: int) -> torch.Tensor:
        """Greedy continuation ids of one left-padded batch, without the prompt."""
        ids = unwrap(self.model).generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        return self.continuation(ids, batch)

    def answer_batch(
        self, images: Sequence[Image.Image], questions: Sequence[str], max_new_tokens: int
    ) -> list[str]:
        """Greedy answers (the continuation only, special tokens dropped), one per question."""
        batch = self.encode(images, self.prompt_texts(questions), padding_side="left")
        ids = self._generate(batch, max_new_tokens)
        return [a.strip() for a in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
