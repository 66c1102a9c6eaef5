"""The model zoo: ViLT, BLIP-2, InstructBLIP and chat VLMs behind the VQAModel interface.

Every family runs on a tiny random model of its real class (see tiny_models.py), saved to a
directory and loaded back through `load_vqa_model`, the path real runs take.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import tiny_models
import torch
from peft import get_peft_model
from tiny_models import ANSWERS, QUESTIONS, example_images, fit_on_examples

from abo_vqa.config import ParamsError, parse_section
from abo_vqa.models import FAMILIES, load_vqa_model
from abo_vqa.models.labels import (
    IGNORE_INDEX,
    answer_suffix_ids,
    close_answer_turn,
    suffix_labels,
)
from abo_vqa.models.loading import pretrained_kwargs
from abo_vqa.models.vilt import answer_targets, label_coverage
from abo_vqa.params import LoraParams, ModelParams, TrainParams
from abo_vqa.quantize import merge_adapter
from abo_vqa.train import QADataset, lora_config, train_lora

# Questions of different lengths, so that every batch pads; answers of 1 to 3 tokens.
VILT_LABELS = ("red", "2", "yes", "wood", "no")

# transformers 5.23 builds a Qwen2-VL processor only with torchvision (the processor checks its
# video processor against VideoProcessorMixin, which exists only then, even when no video
# processor is given), and PyPI's torchvision 0.28.0 does not import beside torch 2.13.0+cpu.
NO_TORCHVISION = pytest.mark.skipif(
    not tiny_models.torchvision_imports(),
    reason="Qwen2-VL processors need torchvision, and it does not import beside this torch",
)


@dataclasses.dataclass(frozen=True)
class Zoo:
    family: str
    model_class: str
    save: Callable[[Path], Path]


ZOO = {
    "vilt": Zoo(
        "vilt", "ViltForQuestionAnswering", lambda p: tiny_models.save_tiny_vilt(p, VILT_LABELS)
    ),
    "blip2-opt": Zoo("blip2", "Blip2ForConditionalGeneration", tiny_models.save_tiny_blip2),
    "blip2-flan-t5": Zoo(
        "blip2", "Blip2ForConditionalGeneration", lambda p: tiny_models.save_tiny_blip2(p, "t5")
    ),
    "instructblip": Zoo(
        "instructblip", "InstructBlipForConditionalGeneration", tiny_models.save_tiny_instructblip
    ),
    "llava-1.5": Zoo("chat", "LlavaForConditionalGeneration", tiny_models.save_tiny_llava),
    "qwen2-vl": Zoo("chat", "Qwen2VLForConditionalGeneration", tiny_models.save_tiny_qwen2_vl),
    "qwen2.5-vl": Zoo(
        "chat",
        "Qwen2_5_VLForConditionalGeneration",
        lambda p: tiny_models.save_tiny_qwen2_vl(p, "2.5"),
    ),
    "smolvlm": Zoo("chat", "Idefics3ForConditionalGeneration", tiny_models.save_tiny_idefics3),
}
NEEDS_TORCHVISION = {"qwen2-vl", "qwen2.5-vl"}
GENERATIVE = [name for name in ZOO if name != "vilt"]


def _params(names):
    return [pytest.param(n, marks=NO_TORCHVISION) if n in NEEDS_TORCHVISION else n for n in names]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Callable[[str], Path]:
    """The directory of each zoo member's tiny model, built once per test module."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            cache[name] = ZOO[name].save(tmp_path_factory.mktemp(name.replace(".", "_")))
        return cache[name]

    return get


def _load(saved, name: str):
    return load_vqa_model(str(saved(name)), family=ZOO[name].family)


def _lora(vqa):
    """The LoRA config train_lora builds for `vqa` (r=4 to stay tiny)."""
    return lora_config(
        LoraParams(r=4, alpha=8, dropout=0.0),
        vqa.lora_exclude_modules,
        modules_to_save=vqa.lora_modules_to_save,
    )


# --- every family ---------------------------------------------------------------------------


def test_the_zoo_covers_every_family_and_params_yaml_accepts_exactly_them():
    assert {zoo.family for zoo in ZOO.values()} | {"blip"} == set(FAMILIES)
    for family in FAMILIES:
        assert parse_section(ModelParams, {"family": family}, "model").family == family
    with pytest.raises(ParamsError, match=r"model\.family: 'llava' is not one of"):
        parse_section(ModelParams, {"family": "llava"}, "model")


@pytest.mark.parametrize("name", _params(ZOO))
def test_loads_the_real_class_from_a_directory_in_float32_on_cpu(saved, name):
    vqa = _load(saved, name)
    assert vqa.family == ZOO[name].family
    assert type(vqa.model).__name__ == ZOO[name].model_class
    assert vqa.device == torch.device("cpu")
    assert vqa.model.dtype == torch.float32
    assert not vqa.model.training


@pytest.mark.parametrize("name", _params(ZOO))
def test_a_model_fitted_on_four_examples_answers_them_in_any_batching(saved, name):
    """Training labels and generation agree (what was trained is what is predicted: the answer
    alone, never the prompt), and padding in a batch changes no answer."""
    vqa = _load(saved, name)
    losses = fit_on_examples(vqa, steps=50, lr=5e-3)
    assert losses[-1] < 0.1 * losses[0]
    for batch_size in (4, 3, 1):  # one batch; a full and a partial one; no padding at all
        assert vqa.predict(example_images(), QUESTIONS, batch_size=batch_size) == list(ANSWERS)


@pytest.mark.parametrize("name", _params(ZOO))
def test_lora_lowers_the_loss_and_the_merged_model_reloads_identically(saved, name, tmp_path):
    vqa = _load(saved, name)
    batch = vqa.training_batch(example_images(), QUESTIONS, ANSWERS)
    vqa.model = get_peft_model(vqa.model, _lora(vqa))
    wrapped = [n for n, m in vqa.model.named_modules() if hasattr(m, "lora_A")]
    assert wrapped
    assert not any(n.endswith(x) for n in wrapped for x in vqa.lora_exclude_modules)
    losses = fit_on_examples(vqa, steps=5, lr=1e-2)
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0]

    predicted = vqa.predict(example_images(), QUESTIONS)  # through the PEFT wrapper
    merge_adapter(vqa)
    vqa.model.eval()
    with torch.no_grad():
        loss = vqa.model(**batch).loss.item()
    vqa.save(tmp_path / "merged")
    reloaded = load_vqa_model(str(tmp_path / "merged"), family=ZOO[name].family)
    assert reloaded.predict(example_images(), QUESTIONS) == predicted
    with torch.no_grad():
        assert reloaded.model(**batch).loss.item() == pytest.approx(loss, rel=1e-5)


@pytest.mark.parametrize("name", ["vilt", "smolvlm"])
def test_train_lora_runs_on_the_adapter_and_trains_the_vilt_head_whole(saved, name, tmp_path):
    """The train_lora stage's path: HF Trainer, PEFT LoRA, the adapter's collate."""
    vqa = _load(saved, name)
    rows = [
        {"image_id": str(i), "question": q, "answer": a}
        for i, (q, a) in enumerate(zip(QUESTIONS, ANSWERS, strict=True))
    ]
    images = {row["image_id"]: image for row, image in zip(rows, example_images(), strict=True)}
    result = train_lora(
        vqa,
        QADataset(rows, images),
        QADataset(rows, images),
        lora=LoraParams(r=4, alpha=8),
        train=TrainParams(max_steps=4, batch_size=2, eval_steps=2, learning_rate=5e-3),
        checkpoint_dir=tmp_path / "checkpoints",
    )
    assert result.metrics["steps"] == 4
    assert math.isfinite(result.metrics["best_eval_loss"])
    trained = {n for n, p in result.model.named_parameters() if p.requires_grad}
    head_trained = any("classifier" in n and "modules_to_save" in n for n in trained)
    assert head_trained == (name == "vilt")
    vqa.model = result.model
    assert len(vqa.predict(example_images(), QUESTIONS)) == len(QUESTIONS)


@pytest.mark.parametrize(("name", "method"), [("vilt", "nf4"), ("llava-1.5", "int8")])
def test_quantized_loading_predicts_and_reloads(saved, name, method, tmp_path):
    """The quantize stage's path: load with a bitsandbytes config, save, load the saved model."""
    from transformers import BitsAndBytesConfig

    if method == "nf4":
        config = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32
        )
    else:
        config = BitsAndBytesConfig(load_in_8bit=True)
    family = ZOO[name].family
    vqa = load_vqa_model(str(saved(name)), family=family, quantization_config=config)
    layers = {type(m).__name__ for m in vqa.model.modules()}
    assert ("Linear4bit" if method == "nf4" else "Linear8bitLt") in layers
    predicted = vqa.predict(example_images(), QUESTIONS)
    assert len(predicted) == len(QUESTIONS)
    vqa.save(tmp_path / "quantized")
    assert (
        load_vqa_model(str(tmp_path / "quantized"), family=family).predict(
            example_images(), QUESTIONS
        )
        == predicted
    )


def test_vilt_head_stays_in_full_precision_when_quantized(saved):
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.float32)
    vqa = load_vqa_model(str(saved("vilt")), family="vilt", quantization_config=config)
    head = vqa.model.get_submodule("classifier")
    assert all(type(m) is torch.nn.Linear for m in head if isinstance(m, torch.nn.Linear))
    assert config.llm_int8_skip_modules is None, "the caller's config is left as it was"


@pytest.mark.parametrize("name", _params(ZOO))
def test_mismatched_inputs_are_rejected(saved, name):
    vqa = _load(saved, name)
    with pytest.raises(ValueError, match="2 images but 1 questions"):
        vqa.predict(example_images()[:2], QUESTIONS[:1])
    with pytest.raises(ValueError, match="2 questions but 1 answers"):
        vqa.training_batch(example_images()[:2], QUESTIONS[:2], ANSWERS[:1])
    with pytest.raises(ValueError, match="batch_size"):
        vqa.predict(example_images()[:1], QUESTIONS[:1], batch_size=0)


# --- generative families: which tokens carry labels -----------------------------------------


@pytest.mark.parametrize("name", _params([n for n in GENERATIVE if n != "blip2-flan-t5"]))
def test_only_the_answer_and_its_end_token_carry_labels(saved, name):
    vqa = _load(saved, name)
    batch = vqa.training_batch(example_images(), QUESTIONS, ANSWERS)
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    assert labels.shape == ids.shape
    assert (mask == 0).any(), "questions differ in length, so the batch must be padded"
    tokenizer = vqa.processor.tokenizer
    for row, answer in enumerate(ANSWERS):
        labelled = (labels[row] != IGNORE_INDEX).nonzero().flatten().tolist()
        last = int(mask[row].nonzero().max())
        # A contiguous run ending at the last real token (right padding follows it)...
        assert labelled == list(range(last - len(labelled) + 1, last + 1))
        assert torch.equal(labels[row, labelled], ids[row, labelled])
        # ...that is the answer and the end of the turn: no prompt, image or pad token.
        text = tokenizer.decode(ids[row, labelled])
        assert text.strip() == answer + tokenizer.eos_token


def test_encoder_decoder_blip2_labels_the_answer_and_feeds_the_prompt_to_the_encoder(saved):
    vqa = _load(saved, "blip2-flan-t5")
    batch = vqa.training_batch(example_images(), QUESTIONS, ANSWERS)
    tokenizer = vqa.processor.tokenizer
    for row, answer in enumerate(ANSWERS):
        labels = batch["labels"][row]
        assert tokenizer.decode(labels[labels != IGNORE_INDEX]) == answer + tokenizer.eos_token
        prompt = tokenizer.decode(batch["input_ids"][row], skip_special_tokens=True)
        assert prompt.endswith(f"Question: {QUESTIONS[row]} Answer:")
    assert (batch["labels"] == IGNORE_INDEX).any(), "answers differ in length: padded labels"


def test_blip2_puts_one_placeholder_per_query_token_before_the_prompt(saved):
    vqa = _load(saved, "blip2-opt")
    batch = vqa.training_batch(example_images(), QUESTIONS, ANSWERS)
    image_token = vqa.model.config.image_token_id
    placeholders = batch["input_ids"][:, : tiny_models.QUERY_TOKENS]
    assert (placeholders == image_token).all()
    assert ((batch["input_ids"] == image_token).sum(dim=1) == tiny_models.QUERY_TOKENS).all()


def test_instructblip_q_former_reads_the_prompt_never_the_answer(saved):
    vqa = _load(saved, "instructblip")
    batch = vqa.training_batch(example_images(), QUESTIONS, ("red", "2", "yes", "purple"))
    qformer_tokenizer = vqa.processor.qformer_tokenizer
    texts = qformer_tokenizer.batch_decode(batch["qformer_input_ids"], skip_special_tokens=True)
    assert texts[3] == "question : what? answer :"
    assert not any("purple" in text for text in texts)


def test_chat_prompt_is_image_question_and_one_word_instruction(saved):
    vqa = _load(saved, "llava-1.5")
    (prompt,) = vqa.render(["what color is the chair?"])
    assert prompt == "USER: <image>\nwhat color is the chair? Answer with one word. ASSISTANT:"
    (text,) = vqa.render(["what color is the chair?"], ["red"])
    # LLaVA-1.5's template ends the turn with a space: the adapter ends it with EOS instead.
    assert text == prompt + " red</s>"


def test_chat_turn_closed_by_the_template_keeps_its_own_end_marker(saved):
    vqa = _load(saved, "smolvlm")
    (prompt,) = vqa.render(["what?"])
    (text,) = vqa.render(["what?"], ["red"])
    assert prompt.endswith(
        "<|im_start|>User:<image>what? Answer with one word.<end_of_utterance>\nAssistant:"
    )
    assert text == prompt + " red<end_of_utterance>"


# --- ViLT -----------------------------------------------------------------------------------


def test_vilt_targets_mark_the_answer_label_and_count_answers_without_one(saved):
    vqa = _load(saved, "vilt")
    batch = vqa.training_batch(example_images(), QUESTIONS, ("Red", "2", "walnut", "no"))
    expected = torch.zeros(4, len(VILT_LABELS))
    expected[0, VILT_LABELS.index("red")] = 1.0  # matched case-insensitively
    expected[1, VILT_LABELS.index("2")] = 1.0
    expected[3, VILT_LABELS.index("no")] = 1.0
    assert torch.equal(batch["labels"], expected)  # "walnut" has no label: an all-zero row
    assert vqa.unknown_answers == {"walnut": 1}
    assert batch["pixel_mask"].shape[0] == 4


def test_vilt_head_is_trained_whole_and_carries_no_lora(saved):
    vqa = _load(saved, "vilt")
    assert vqa.lora_modules_to_save == ("classifier",)
    vqa.model = get_peft_model(vqa.model, _lora(vqa))
    head = {n: p.requires_grad for n, p in vqa.model.named_parameters() if ".classifier." in n}
    trained = [n for n, grad in head.items() if grad]
    assert trained and all("modules_to_save" in n for n in trained)
    assert not any("lora_" in n for n in head)


def test_vilt_label_coverage():
    label2id = {"red": 0, "2": 1}
    assert label_coverage(["red", "RED ", "blue", "2"], label2id) == 0.75
    assert label_coverage([], label2id) == 1.0
    targets, unknown = answer_targets(["blue"], label2id, 2)
    assert unknown == ["blue"] and not targets.any()


# --- shared rules ---------------------------------------------------------------------------


def test_answer_suffix_is_what_the_full_text_adds_to_the_prompt():
    tokenizer = tiny_models.bpe_tokenizer(["<pad>", "</s>"], bos="</s>", eos="</s>", pad="<pad>")
    suffix = answer_suffix_ids(
        tokenizer, "Question: what? Answer:", "Question: what? Answer: red</s>"
    )
    assert tokenizer.decode(suffix) == " red</s>"
    with pytest.raises(ValueError, match="does not start with its prompt"):
        answer_suffix_ids(tokenizer, "Question: how?", "Question: what? red")


def test_suffix_labels_cover_the_last_real_tokens_on_either_padding_side():
    ids = torch.tensor([[5, 6, 7, 8, 0], [0, 5, 6, 7, 8]])
    mask = torch.tensor([[1, 1, 1, 1, 0], [0, 1, 1, 1, 1]])
    labels = suffix_labels(ids, mask, [[7, 8], [8]])
    assert labels.tolist() == [[-100, -100, 7, 8, -100], [-100, -100, -100, -100, 8]]
    with pytest.raises(ValueError, match="row 1 does not end with its answer tokens"):
        suffix_labels(ids, mask, [[7, 8], [6]])


def test_answer_turn_ends_at_its_marker_or_gets_eos():
    assert (
        close_answer_turn("A:", "A: red<|im_end|>\n", ["<|im_end|>"], "</s>") == "A: red<|im_end|>"
    )
    assert close_answer_turn("A:", "A: red ", ["<|im_end|>"], "</s>") == "A: red</s>"


def test_loading_places_models_by_device_and_quantization(tmp_path):
    local = pretrained_kwargs(str(tmp_path), device="cpu")
    assert local == {"dtype": torch.float32, "local_files_only": True}
    quantized = pretrained_kwargs("org/model", device="cpu", quantization_config="q")
    assert quantized == {
        "dtype": torch.float32,
        "quantization_config": "q",
        "device_map": {"": "cpu"},
    }
    assert pretrained_kwargs("org/model", dtype="bfloat16", device="cpu")["dtype"] == torch.bfloat16
