"""BLIP question answering (`BlipForQuestionAnswering`) behind the VQAModel interface.

Works for the hub's `Salesforce/blip-vqa-base` and for local directories such as the shipped tiny
base model; a local directory is always loaded with `local_files_only=True`, so nothing ever waits
on an unreachable hub.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from transformers import BlipForQuestionAnswering, BlipProcessor

from abo_vqa.models.adapter import HFVQAModel
from abo_vqa.models.base import (
    PredictSteps,
    as_rgb,
    resolve_device,
    resolve_dtype,
)
from abo_vqa.models.loading import Placement
from abo_vqa.models.vocab import init_rows_from_pieces

# The decoder's output projection shares its weight with the decoder's word embeddings; a LoRA
# on it would change the embeddings too once merged.
TIED_OUTPUT_HEAD = "text_decoder.cls.predictions.decoder"
QUESTION_EMBEDDINGS = "text_encoder.embeddings.word_embeddings"
ANSWER_EMBEDDINGS = "text_decoder.bert.embeddings.word_embeddings"
"""The question encoder's and the answer decoder's token embeddings: separate matrices, the
second tied to TIED_OUTPUT_HEAD."""


class BlipVQAModel(HFVQAModel):
    """A BlipForQuestionAnswering with its processor (see `abo_vqa.models.base.VQAModel`)."""

    family = "blip"

    @property
    def lora_exclude_modules(self) -> tuple[str, ...]:
        return (TIED_OUTPUT_HEAD,)

    def grow_vocabulary(self, words: Sequence[str]) -> list[int]:
        """Add `words` as whole-word tokens; both token embeddings and the output layer's weight
        grow by one row each, set to the mean of the word's old pieces. The output layer's bias
        grows by a zero, as the standard `resize_token_embeddings` pads it: the adapter's card
        loads a fresh base that way, so its head must start from the same bias as training did.

        A new word is matched in questions as well as answers, so the question encoder learns
        it too (e.g. the options of "is it hard or soft?").
        """
        from tokenizers import AddedToken

        tokenizer = self.processor.tokenizer
        pieces = [tokenizer(word, add_special_tokens=False)["input_ids"] for word in words]
        # single_word: "oak" must not match inside "oaken"; normalized: matched after
        # lowercasing, as the words were given.
        before = len(tokenizer)
        added = [AddedToken(w, single_word=True, normalized=True) for w in words]
        if tokenizer.add_tokens(added) != len(words):
            raise ValueError(f"some of {list(words)[:5]}... already are tokens, or repeat")
        ids = list(range(before, len(tokenizer)))
        blip = self._blip()
        for text_model in (blip.text_encoder, blip.text_decoder):
            # mean_resizing=False: no random draw; the rows are set from the pieces below.
            text_model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        head = blip.text_decoder.get_output_embeddings()
        for weight in (blip.text_encoder.get_input_embeddings().weight, head.weight):
            init_rows_from_pieces(weight, ids, pieces)
        return ids

    def trainable_token_rows(
        self, new_ids: Sequence[int], answer_ids: Sequence[int]
    ) -> dict[str, list[int]]:
        """The new words' question rows; and the rows of the new words and of every other answer
        word in both the decoder's input embeddings and its output head.

        The output head shares its weight with the decoder's input embeddings in the base model,
        but here each trains rows of its own. A tie is something PEFT cannot restore when it
        loads the adapter onto BLIP (it ties trained rows to the model's input embeddings, which
        for BLIP are the question encoder's): an adapter trained with tied rows answers
        differently once loaded by plain PEFT code. Untied rows are stored for both layers and
        load back exactly. PEFT's trainable-token head adds the head's bias (since PEFT 0.22;
        earlier releases left it out), in training and after loading alike.
        """
        answer_rows = sorted({*new_ids, *answer_ids})
        return {
            QUESTION_EMBEDDINGS: sorted(new_ids),
            ANSWER_EMBEDDINGS: answer_rows,
            TIED_OUTPUT_HEAD: answer_rows,
        }

    def resize_vocabulary(self, size: int) -> None:
        """Give both text models `size` token rows, as the adapter card's loading code does;
        the rows of added tokens then come from the adapter's trained rows."""
        blip = self._blip()
        for text_model in (blip.text_encoder, blip.text_decoder):
            text_model.resize_token_embeddings(size, mean_resizing=False)

    def merge_adapter(self) -> None:
        """Fold the adapter into the weights; the result answers exactly as the adapter does.

        With trained output-head rows (see `trainable_token_rows`) the head is first untied from
        the decoder's input embeddings, whose rows were trained apart from it, and the merged
        config says so; the head keeps the bias, which the adapter's head added as well.
        """
        from peft.utils import TrainableTokensWrapper

        blip = self._blip()
        head = blip.text_decoder.cls.predictions.decoder
        trained_head = isinstance(head, TrainableTokensWrapper)
        if trained_head:
            own = head.token_adapter.get_base_layer()
            own.weight = torch.nn.Parameter(own.weight.detach().clone())
            for config in (blip.config, blip.config.text_config):
                config.tie_word_embeddings = False
        super().merge_adapter()
        if trained_head:
            predictions = self._blip().text_decoder.cls.predictions
            # Two parameters of equal values, not one shared: saved once under each name. A
            # shared one is saved under one name, and with the head untied transformers then
            # loads the other as "missing" and re-initialises it.
            bias = predictions.bias.detach().clone()
            predictions.bias = torch.nn.Parameter(bias)
            predictions.decoder.bias = torch.nn.Parameter(bias.clone())

    def _blip(self) -> BlipForQuestionAnswering:
        """The BLIP module itself, also when `model` has been wrapped by PEFT since loading."""
        get_base_model = getattr(self.model, "get_base_model", None)
        return get_base_model() if callable(get_base_model) else self.model

    def encode_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Pixel values on the model's device, in the vision tower's dtype."""
        return self._vision_input(self._pixel_values(images))

    def _pixel_values(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """The image processor's pixel values, on the CPU (no model involved)."""
        return self.processor.image_processor(as_rgb(images), return_tensors="pt")["pixel_values"]

    def _vision_input(self, pixels: torch.Tensor) -> torch.Tensor:
        # Half precision on GPU, or a quantized model's compute dtype.
        pixel_dtype = self._blip().vision_model.embeddings.patch_embedding.weight.dtype
        return pixels.to(self.device, pixel_dtype)

    def encode_questions(self, questions: Sequence[str]) -> dict[str, torch.Tensor]:
        """`input_ids` and `attention_mask` of the padded questions."""
        tokens = self.processor.tokenizer(
            list(questions), padding=True, truncation=True, return_tensors="pt"
        )
        return {
            "input_ids": tokens["input_ids"].to(self.device),
            "attention_mask": tokens["attention_mask"].to(self.device),
        }

    def encode_answers(self, answers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Decoder inputs and labels of the answers, tokenized as `[CLS] answer [SEP]`.

        BLIP feeds `labels` to the decoder as its inputs unless `decoder_input_ids` is given, so
        both are returned: the ids (first token set to the decoder's start token, as in
        generation) and the labels with -100 on padding.
        """
        tokens = self.processor.tokenizer(
            list(answers), padding=True, truncation=True, return_tensors="pt"
        )
        decoder_input_ids = tokens["input_ids"].clone()
        decoder_input_ids[:, 0] = self._blip().decoder_start_token_id
        labels = tokens["input_ids"].masked_fill(tokens["attention_mask"] == 0, -100)
        return {
            "decoder_input_ids": decoder_input_ids.to(self.device),
            "decoder_attention_mask": tokens["attention_mask"].to(self.device),
            "labels": labels.to(self.device),
        }

    def _encode_pairs(
        self, images: Sequence[Image.Image], questions: Sequence[str]
    ) -> dict[str, torch.Tensor]:
        if len(images) != len(questions):
            raise ValueError(f"{len(images)} images but {len(questions)} questions")
        return {**self.encode_questions(questions), "pixel_values": self.encode_images(images)}

    def training_batch(
        self, images: Sequence[Image.Image], questions: Sequence[str], answers: Sequence[str]
    ) -> dict[str, torch.Tensor]:
        """Inputs for `model(**batch)`, whose `.loss` is the answer tokens' cross-entropy
        (see `encode_answers` for the labels)."""
        if len(answers) != len(questions):
            raise ValueError(f"{len(questions)} questions but {len(answers)} answers")
        return {**self._encode_pairs(images, questions), **self.encode_answers(answers)}

    @torch.no_grad()
    def _generate(self, inputs: dict[str, torch.Tensor], max_new_tokens: int) -> torch.Tensor:
        """Greedy answer ids for one encoded batch.

        Not `BlipForQuestionAnswering.generate`: it lets the decoder attend to the question's
        padding, so a question's answer would depend on the longest question in its batch. Here
        the decoder sees the question's attention mask, as in training.
        """
        image_embeds = self._image_states(inputs["pixel_values"])
        return self._generate_from_image_states(image_embeds, inputs, max_new_tokens)

    @torch.no_grad()
    def _image_states(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The vision tower's last hidden states, (B, P, H), for pixel values on the device."""
        return self._blip().vision_model(pixel_values=pixel_values).last_hidden_state

    @torch.no_grad()
    def _generate_from_image_states(
        self, image_embeds: torch.Tensor, inputs: dict[str, torch.Tensor], max_new_tokens: int
    ) -> torch.Tensor:
        """Greedy answer ids from the vision tower's states and the encoded questions."""
        blip = self._blip()
        question_embeds = question_states(blip, inputs, image_embeds)
        start = torch.full(
            (question_embeds.shape[0], 1), blip.decoder_start_token_id, device=self.device
        )
        text_config = blip.config.text_config
        return blip.text_decoder.generate(
            input_ids=start,
            encoder_hidden_states=question_embeds,
            encoder_attention_mask=inputs["attention_mask"],
            eos_token_id=text_config.sep_token_id,
            pad_token_id=text_config.pad_token_id,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
        )

    def answer_batch(
        self, images: Sequence[Image.Image], questions: Sequence[str], max_new_tokens: int
    ) -> list[str]:
        """Raw decoded greedy answers (special tokens dropped), one per question."""
        return self._decode(self._generate(self._encode_pairs(images, questions), max_new_tokens))

    # Batches of one question length: in transformers 5.23 the BLIP text layers drop the
    # cross-attention mask, so the answer decoder attends to question padding and a padded
    # question could get another answer than alone (3 of 256 in bench/bench_predict.py with
    # mixed lengths; 0 of 256 with batches of one length).
    def question_length(self, question: str) -> int:
        return self._question_lengths([question])[0]

    def _question_lengths(self, questions: Sequence[str]) -> list[int]:
        """Token lengths of the questions as `encode_questions` reads them (unpadded)."""
        return [len(ids) for ids in self.processor.tokenizer(list(questions))["input_ids"]]

    def _decode(self, ids: torch.Tensor) -> list[str]:
        decoded = self.processor.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return [answer.strip() for answer in decoded]

    def predict_steps(self) -> PredictSteps:
        """`predict` in steps (see `PredictSteps`): the image processor, the vision tower once
        per image, then the question encoder and the answer decoder on the stacked states."""

        def answer(
            image_states: Sequence[torch.Tensor], questions: Sequence[str], max_new_tokens: int
        ) -> list[str]:
            if len(image_states) != len(questions):
                raise ValueError(f"{len(image_states)} images but {len(questions)} questions")
            inputs = self.encode_questions(questions)
            states = torch.stack(list(image_states))
            return self._decode(self._generate_from_image_states(states, inputs, max_new_tokens))

        return PredictSteps(
            prepare_images=self._pixel_values,
            encode_images=lambda pixels: self._image_states(self._vision_input(pixels)),
            answer=answer,
            question_lengths=self._question_lengths,
        )


def question_states(
    model: BlipForQuestionAnswering,
    batch: Mapping[str, torch.Tensor],
    image_embeds: torch.Tensor,
) -> torch.Tensor:
    """The question encoder's last hidden states, each question attending to all its image's
    patches. (B, T, H) from `batch`'s input_ids/attention_mask and (B, P, H) image embeddings."""
    image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
    return model.text_encoder(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        encoder_hidden_states=image_embeds,
        encoder_attention_mask=image_mask,
    ).last_hidden_state


def answer_loss_from_image_embeds(
    model: BlipForQuestionAnswering,
    batch: Mapping[str, torch.Tensor],
    image_embeds: torch.Tensor,
) -> torch.Tensor:
    """`BlipForQuestionAnswering.forward`'s training loss from the question encoder on.

    For callers that run the vision tower themselves: once per image for several questions
    (pretraining).
    `image_embeds` has one row per row of `batch`'s text tensors.
    """
    question_embeds = question_states(model, batch, image_embeds)
    return model.text_decoder(
        input_ids=batch["decoder_input_ids"],
        attention_mask=batch["decoder_attention_mask"],
        encoder_hidden_states=question_embeds,
        encoder_attention_mask=batch["attention_mask"],
        labels=batch["labels"],
        reduction="mean",
    ).loss


def load_blip(name_or_path: str, placement: Placement) -> BlipVQAModel:
    """Load a BLIP VQA model and its processor from a hub id or a local directory."""
    target = resolve_device(placement.device)
    local = Path(name_or_path).is_dir()
    kwargs: dict[str, Any] = {"local_files_only": True} if local else {}
    load_kwargs: dict[str, Any] = {"dtype": resolve_dtype(placement.dtype, target)}
    quantization_config = placement.quantization_config
    if quantization_config is not None:
        # Quantized weights cannot be moved after loading: place them while loading.
        load_kwargs.update(quantization_config=quantization_config, device_map={"": str(target)})
    model = BlipForQuestionAnswering.from_pretrained(name_or_path, **kwargs, **load_kwargs)
    if quantization_config is None:
        model = model.to(target)
    model.eval()
    processor = BlipProcessor.from_pretrained(name_or_path, **kwargs)
    return BlipVQAModel(model, processor, target)
