"""The BLIP adapter on tiny random models, and the shipped offline base model."""

from __future__ import annotations

import math
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from tiny_models import (
    ANSWERS,
    QUESTIONS,
    TINY_BLIP,
    build_tiny_test_blip,
    example_images,
    fit_on_examples,
)

from abo_vqa.models import load_vqa_model
from abo_vqa.models.base import batched_predict
from abo_vqa.models.blip import TIED_OUTPUT_HEAD, BlipVQAModel
from abo_vqa.synthetic.tiny import wordpiece_vocab
from abo_vqa.vocabulary import all_answer_words

SHIPPED_BASE = Path(__file__).resolve().parents[1] / "models" / "base" / "tiny-blip-vqa"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny(tmp_path: Path) -> BlipVQAModel:
    model, processor = build_tiny_test_blip()
    BlipVQAModel(model, processor, torch.device("cpu")).save(tmp_path / "tiny")
    return load_vqa_model(str(tmp_path / "tiny"))


def test_saved_tiny_model_loads_back_with_its_processor(tmp_path):
    vqa = _tiny(tmp_path)
    assert vqa.family == "blip"
    assert vqa.device == torch.device("cpu")
    assert vqa.model.dtype == torch.float32  # dtype "auto" on CPU
    assert vqa.processor.tokenizer.tokenize("rectangular") == ["rectangular"]


def test_predict_returns_one_answer_per_question(tmp_path):
    answers = _tiny(tmp_path).predict(example_images(), QUESTIONS, batch_size=3)
    assert len(answers) == len(QUESTIONS)
    assert all(isinstance(answer, str) for answer in answers)


def test_batched_predictions_equal_one_at_a_time(tmp_path):
    vqa = _tiny(tmp_path)
    fit_on_examples(vqa, steps=60, lr=3e-3)  # so that answers depend on image and question
    batched = vqa.predict(example_images(), QUESTIONS, batch_size=4)
    pairs = zip(example_images(), QUESTIONS, strict=True)
    single = [vqa.predict([image], [question])[0] for image, question in pairs]
    assert batched == single
    assert len(set(batched)) > 1, "a model answering everything alike proves nothing here"


def test_predict_restores_training_mode(tmp_path):
    vqa = _tiny(tmp_path)
    vqa.model.train()
    vqa.predict(example_images()[:1], QUESTIONS[:1])
    assert vqa.model.training


def test_training_batch_masks_exactly_the_answer_padding(tmp_path):
    vqa = _tiny(tmp_path)
    batch = vqa.training_batch(example_images(), QUESTIONS, ("red", "yes", "rectangular", "xyz"))
    labels, mask = batch["labels"], batch["decoder_attention_mask"]
    assert labels.shape == batch["decoder_input_ids"].shape == mask.shape
    assert torch.equal(labels == -100, mask == 0)
    assert (mask == 0).any(), "the answers differ in length, so some positions are padding"
    # Labels are the answer tokens themselves where not padding: [CLS] answer [SEP].
    tokenizer = vqa.processor.tokenizer
    first = tokenizer.convert_ids_to_tokens(labels[0][mask[0] == 1].tolist())
    assert first == ["[CLS]", "red", "[SEP]"]
    assert batch["pixel_values"].shape == (4, 3, TINY_BLIP.image_size, TINY_BLIP.image_size)


def test_loss_is_finite_and_decreases_on_a_fixed_batch(tmp_path):
    losses = fit_on_examples(_tiny(tmp_path), steps=15, lr=3e-3)
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < 0.75 * losses[0]


def test_mismatched_inputs_are_rejected(tmp_path):
    vqa = _tiny(tmp_path)
    with pytest.raises(ValueError, match="2 images but 1 questions"):
        vqa.predict(example_images()[:2], QUESTIONS[:1])
    with pytest.raises(ValueError, match="answers"):
        vqa.training_batch(example_images()[:2], QUESTIONS[:2], ANSWERS[:1])


def test_unknown_family_is_an_error():
    with pytest.raises(ValueError, match="family 'llava'"):
        load_vqa_model("anything", family="llava")


def test_all_linear_lora_leaves_the_tied_output_head_alone(tmp_path):
    from peft import LoraConfig, get_peft_model

    vqa = _tiny(tmp_path)
    assert vqa.lora_exclude_modules == (TIED_OUTPUT_HEAD,)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules="all-linear",
        exclude_modules=list(vqa.lora_exclude_modules),
        task_type=None,
    )
    vqa.model = get_peft_model(vqa.model, config)
    wrapped = {name for name, module in vqa.model.named_modules() if hasattr(module, "lora_A")}
    assert not any(name.endswith(TIED_OUTPUT_HEAD) for name in wrapped)
    assert any("text_decoder" in name for name in wrapped)
    assert len(vqa.predict(example_images()[:2], QUESTIONS[:2])) == 2  # predict works through peft
    batch = vqa.training_batch(example_images()[:2], QUESTIONS[:2], ANSWERS[:2])
    assert "loss" in vqa.model(**batch)


def test_vocabulary_words_must_be_plain_words():
    with pytest.raises(ValueError, match="'mid-century'"):
        wordpiece_vocab(["modern", "mid-century"])


def test_shipped_base_model_loads_offline_and_answers():
    # The shipped weights are fixed and greedy decoding is deterministic: the answers are too
    # (a rebuilt base must update them).
    vqa = load_vqa_model(str(SHIPPED_BASE))
    assert vqa.predict(example_images(), QUESTIONS) == ["red", "1", "no", "purple"]


def test_every_answer_word_is_one_token_of_the_shipped_base():
    tokenizer = load_vqa_model(str(SHIPPED_BASE)).processor.tokenizer
    split = {w: tokenizer.tokenize(w) for w in all_answer_words() if tokenizer.tokenize(w) != [w]}
    assert split == {}
    assert tokenizer.unk_token not in tokenizer.tokenize("what is the qzx-9 widget's hue?")


def test_with_question_lengths_a_batch_never_mixes_lengths_and_answers_keep_their_order():
    questions = ["a b", "a", "a b c", "b", "c d", "e", "f"]
    batches: list[list[str]] = []

    def answer_batch(images, asked):
        batches.append(list(asked))
        return [question.upper() for question in asked]

    answers = batched_predict(
        torch.nn.Linear(1, 1), [None] * len(questions), questions, 2, answer_batch, len
    )
    assert answers == [question.upper() for question in questions]
    assert all(len({len(q) for q in batch}) == 1 for batch in batches)
    # Groups in order of first appearance, each cut into batches of at most 2.
    assert batches == [["a b", "c d"], ["a", "b"], ["e", "f"], ["a b c"]]


def test_the_blip_adapter_batches_questions_of_one_token_length(tmp_path, monkeypatch):
    vqa = _tiny(tmp_path)
    seen: list[set[int]] = []
    encode = vqa._encode_pairs

    def recording(images, questions):
        seen.append({vqa.question_length(q) for q in questions})
        return encode(images, questions)

    monkeypatch.setattr(vqa, "_encode_pairs", recording)
    vqa.predict(example_images(), QUESTIONS, batch_size=4)
    assert len(seen) > 1 and all(len(lengths) == 1 for lengths in seen)
