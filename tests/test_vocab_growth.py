"""Answer words the base tokenizer would split become tokens of their own, are trained, and
survive saving, reloading, merging and quantization (abo_vqa.models.vocab, abo_vqa.train).

The fast tests use the tiny random BLIP of tiny_models; the training tests use the shipped base
(a random base learns nothing with LoRA) on a handful of rows, for a few dozen steps.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from PIL import Image
from tiny_models import build_tiny_test_blip
from transformers import BlipForQuestionAnswering

from abo_vqa.answers import normalize_reference
from abo_vqa.evaluate import QuestionOnlyBaseline
from abo_vqa.models import load_vqa_model
from abo_vqa.models.blip import (
    ANSWER_EMBEDDINGS,
    QUESTION_EMBEDDINGS,
    TIED_OUTPUT_HEAD,
    BlipVQAModel,
)
from abo_vqa.models.lora import attach_adapter, bnb_config
from abo_vqa.models.vocab import (
    adopt_vocabulary,
    frequent_question_words,
    grow_for_answers,
    is_one_token,
    trainable_token_rows,
    words_to_add,
)
from abo_vqa.params import LoraParams, QuantizeParams, TrainParams
from abo_vqa.quantize import merge_adapter
from abo_vqa.train import QADataset, save_adapter, train_lora

SHIPPED_BASE = Path(__file__).resolve().parents[1] / "models" / "base" / "tiny-blip-vqa"
NEW_WORDS = ("velvetine", "zorbl", "t-shirt", "quokkas")
"""Answer words neither the tiny test vocabulary nor the shipped base's has as one token."""

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny() -> BlipVQAModel:
    model, processor = build_tiny_test_blip()
    return BlipVQAModel(model, processor, torch.device("cpu"))


def _pieces(vqa: BlipVQAModel, word: str) -> list[int]:
    return vqa.processor.tokenizer(word, add_special_tokens=False)["input_ids"]


def test_every_training_answer_is_one_token_after_growing():
    vqa = _tiny()
    answers = ["red", "Velvetine", "zorbl", "T-shirt", "red", "quokkas", "2"]
    tokenizer = vqa.processor.tokenizer
    assert words_to_add(tokenizer, answers) == ["quokkas", "t-shirt", "velvetine", "zorbl"]
    size = len(tokenizer)

    added = grow_for_answers(vqa, answers)

    assert added == list(range(size, size + 4))
    for answer in answers:
        assert is_one_token(tokenizer, answer), answer
    assert words_to_add(tokenizer, answers) == []
    # a new word is matched as a whole word only, and in questions too
    assert len(_pieces(vqa, "zorbly")) > 1
    assert tokenizer.convert_ids_to_tokens(_pieces(vqa, "is it a zorbl?"))[-2] == "zorbl"
    assert tokenizer.decode(_pieces(vqa, "velvetine")) == "velvetine"


def test_question_words_seen_often_enough_become_tokens_too():
    vqa = _tiny()
    tokenizer = vqa.processor.tokenizer
    questions = [
        "What animal is depicted?",
        "what animal is DEPICTED on it?",
        "Which animal is depicted here?",
        "what is the closure? closure!",  # counted once per question
        "what is the closure?",
    ]
    assert frequent_question_words(tokenizer, questions, 3) == ["animal", "depicted"]
    assert frequent_question_words(tokenizer, questions, 0) == []
    assert "closure" in frequent_question_words(tokenizer, questions, 2)

    added = grow_for_answers(vqa, ["zorbl"], questions, min_question_count=3)

    assert tokenizer.convert_ids_to_tokens(added) == ["animal", "depicted", "zorbl"]
    assert tokenizer.tokenize("what animal is depicted?") == [
        "what", "animal", "is", "depicted", "?"
    ]  # fmt: skip


def test_new_rows_start_as_the_mean_of_the_word_pieces_and_the_output_head_stays_tied():
    vqa = _tiny()
    pieces = _pieces(vqa, "zorbl")
    blip = vqa.model
    head = blip.text_decoder.get_output_embeddings()
    expected_head = head.weight[pieces].mean(0).clone()
    expected_question = blip.text_encoder.get_input_embeddings().weight[pieces].mean(0).clone()

    [new_id] = vqa.grow_vocabulary(["zorbl"])

    size = len(vqa.processor.tokenizer)
    assert blip.config.text_config.vocab_size == size
    for name in (QUESTION_EMBEDDINGS, ANSWER_EMBEDDINGS):
        assert blip.get_submodule(name).weight.shape[0] == size
    assert head.weight is blip.get_submodule(ANSWER_EMBEDDINGS).weight  # still tied
    assert head.bias.shape[0] == size
    torch.testing.assert_close(head.weight[new_id], expected_head)
    # a zero, as the standard resize pads it when the adapter's card loads a fresh base
    assert head.bias[new_id] == 0
    torch.testing.assert_close(
        blip.get_submodule(QUESTION_EMBEDDINGS).weight[new_id], expected_question
    )


def test_a_model_without_a_growable_vocabulary_is_left_alone():
    class Fixed:
        processor = None

    assert grow_for_answers(Fixed(), ["velvetine"]) == []


def test_the_adapter_head_adds_its_bias_and_the_merge_answers_alike_also_reloaded(tmp_path):
    # PEFT's trainable-token head left the wrapped layer's bias out before PEFT 0.22 and adds it
    # since; the project requires 0.22, so training, the loaded adapter and the merge all use it.
    # The merge also keeps the head's trained rows apart from the decoder embeddings' rows.
    from peft import get_peft_model

    from abo_vqa.train import lora_config

    vqa = load_vqa_model(str(SHIPPED_BASE), dtype="float32")
    head = vqa.model.text_decoder.cls.predictions.decoder
    assert head.bias.abs().max() > 0  # the shipped base has a real bias
    hidden = torch.randn(3, head.in_features, generator=torch.Generator().manual_seed(0))
    base_logits = head(hidden).detach()
    new_ids = grow_for_answers(vqa, ["quokkas"], [], min_question_count=0)
    rows = trainable_token_rows(vqa, new_ids, ["quokkas", "red"])
    untrained = sorted(set(range(base_logits.shape[1])) - set(rows[TIED_OUTPUT_HEAD]))
    vqa.model = get_peft_model(
        vqa.model, lora_config(LoraParams(), vqa.lora_exclude_modules, trainable_token_indices=rows)
    )
    blip = vqa.model.base_model.model
    with torch.no_grad():  # the two layers' rows of one token, trained apart
        blip.get_submodule(TIED_OUTPUT_HEAD).token_adapter.trainable_tokens_delta["default"] += 1
    with torch.no_grad():
        adapter_logits = blip.get_submodule(TIED_OUTPUT_HEAD)(hidden)
        token_ids = torch.tensor([new_ids])
        adapter_embeddings = blip.get_submodule(ANSWER_EMBEDDINGS)(token_ids)
        kept = adapter_logits[:, : base_logits.shape[1]]
        assert not torch.allclose(kept, base_logits, atol=1e-5)  # trained rows changed
        torch.testing.assert_close(kept[:, untrained], base_logits[:, untrained])  # bias and all
        vqa.merge_adapter()
        merged = vqa.model
        torch.testing.assert_close(merged.get_submodule(TIED_OUTPUT_HEAD)(hidden), adapter_logits)
        assert torch.equal(merged.get_submodule(ANSWER_EMBEDDINGS)(token_ids), adapter_embeddings)
    merged.save_pretrained(tmp_path)
    reloaded = BlipForQuestionAnswering.from_pretrained(tmp_path, dtype=torch.float32)
    with torch.no_grad():  # no bias "missing" from the folder and re-initialised on loading
        torch.testing.assert_close(reloaded.get_submodule(TIED_OUTPUT_HEAD)(hidden), adapter_logits)


def _noise_images(count: int, seed: int) -> list[Image.Image]:
    generator = torch.Generator().manual_seed(seed)
    return [
        Image.fromarray(
            torch.randint(0, 256, (40, 40, 3), generator=generator, dtype=torch.uint8).numpy()
        )
        for _ in range(count)
    ]


def _rows(questions_answers: list[tuple[str, str]], prefix: str):
    rows = [
        {"image_id": f"{prefix}{i}", "question": q, "answer": a}
        for i, (q, a) in enumerate(questions_answers)
    ]
    images = dict(
        zip((r["image_id"] for r in rows), _noise_images(len(rows), len(prefix)), strict=True)
    )
    return rows, images


def _train(
    tmp_path: Path, rows, images, steps: int, lr: float = 3e-3, rank: int = 8, min_count: int = 3
):
    vqa = load_vqa_model(str(SHIPPED_BASE), dtype="float32")
    dataset = QADataset(rows, images)
    result = train_lora(
        vqa,
        dataset,
        QADataset(rows[:4], images),
        lora=LoraParams(r=rank, alpha=2 * rank, dropout=0.0),
        train=TrainParams(
            learning_rate=lr,
            max_steps=steps,
            batch_size=8,
            eval_steps=steps,
            warmup_ratio=0,
            question_word_min_count=min_count,
        ),
        checkpoint_dir=tmp_path / "checkpoints",
    )
    return vqa, result


# Each question has one answer whatever the image: a question-only model gets them all right.
ANSWER_OF = {
    "what is the fabric of the sofa?": "velvetine",
    "what animal is on the label?": "quokkas",
    "what is the type of garment shown?": "t-shirt",
    "what colour is the sofa?": "red",
}


@pytest.mark.slow
def test_new_answer_words_are_trained_saved_reloaded_merged_and_quantized(tmp_path):
    pairs = [(q, a) for q, a in ANSWER_OF.items() for _ in range(4)]
    rows, images = _rows(pairs, "train")
    base = load_vqa_model(str(SHIPPED_BASE), dtype="float32")
    vqa, result = _train(tmp_path, rows, images, steps=80, min_count=0)  # answer words only
    assert result.metrics["added_tokens"] == 3  # "red" already is a token

    # the new rows changed in training: the trained model's rows differ from their start
    tokenizer = vqa.processor.tokenizer
    new_ids = tokenizer.convert_tokens_to_ids(["quokkas", "t-shirt", "velvetine"])
    base_head = base.model.text_decoder.get_output_embeddings().weight
    start = torch.stack([base_head[_pieces(base, tokenizer.decode([i]))].mean(0) for i in new_ids])
    adapter = vqa.model.base_model.model.get_submodule(ANSWER_EMBEDDINGS).token_adapter
    rows = [adapter.token_indices["default"].index(i) for i in new_ids]
    trained = adapter.trainable_tokens_delta["default"][rows]
    assert (trained - start).abs().max() > 1e-3

    save_adapter(result, tmp_path / "adapter")
    questions = list(ANSWER_OF)
    unseen = _noise_images(len(questions), seed=99)
    reloaded = attach_adapter(
        load_vqa_model(str(SHIPPED_BASE), dtype="float32"), tmp_path / "adapter"
    )
    assert len(reloaded.processor.tokenizer) == len(tokenizer)
    answers = reloaded.predict(unseen, questions)
    assert answers == [ANSWER_OF[q] for q in questions]
    assert vqa.predict(unseen, questions) == answers

    merge_adapter(reloaded).save(tmp_path / "merged")
    merged = load_vqa_model(str(tmp_path / "merged"), dtype="float32")
    assert merged.predict(unseen, questions) == answers
    config = bnb_config(QuantizeParams(method="nf4"), family="blip")
    nf4 = load_vqa_model(str(tmp_path / "merged"), quantization_config=config)
    assert nf4.predict(unseen, questions) == answers


def test_an_adapter_folder_without_a_tokenizer_leaves_the_base_vocabulary_alone(tmp_path):
    vqa = _tiny()
    size = len(vqa.processor.tokenizer)
    assert adopt_vocabulary(vqa, tmp_path) == []
    assert len(vqa.processor.tokenizer) == size


@pytest.mark.slow
def test_the_fine_tuned_model_learns_the_language_prior_of_the_question_only_baseline(tmp_path):
    """Regression: answers that depend on the question only (each question has a majority
    answer, the images are noise) must be learned as well as a bag-of-words classifier on
    the question learns them. With the output rows of old answer words frozen (only the new
    words' rows trained), this run at the pipeline's learning rate and rank answered "is the
    suitcase hard or soft?" with "velvetine"."""
    majority = {
        "what is the apparent texture of the sofa?": ("velvetine", "woven"),
        "what metal is used in the lamp?": ("brass", "silver"),
        "what size is the bed?": ("queen", "king"),
        "is the suitcase hard or soft?": ("soft", "hard"),
    }
    pairs = [(q, a) for q, (a, b) in majority.items() for a in (a, a, a, b)]
    rows, images = _rows(pairs * 2, "train")
    vqa, _ = _train(tmp_path, rows, images, steps=150, lr=1e-3, rank=16)

    test_rows, test_images = _rows([(q, a) for q, (a, _) in majority.items()] * 4, "test")
    questions = [row["question"] for row in test_rows]
    predicted = vqa.predict([test_images[r["image_id"]] for r in test_rows], questions)
    question_only = QuestionOnlyBaseline(
        [{**row, "answer": normalize_reference(row["answer"])} for row in rows]
    ).predict_rows(test_rows)
    references = [row["answer"] for row in test_rows]
    model_right = sum(p == r for p, r in zip(predicted, references, strict=True))
    baseline_right = sum(p == r for p, r in zip(question_only, references, strict=True))
    assert baseline_right == len(test_rows)  # the prior is learnable from the question alone
    assert model_right >= baseline_right, Counter(zip(questions, predicted, strict=True))
