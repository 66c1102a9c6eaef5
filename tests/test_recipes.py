"""Every recipe in recipes/ loads, trains, quantizes and answers — on a tiny random model of its
exact class.

A recipe test takes the recipe's params as `abo-vqa recipe` would apply them, then swaps only the
hub id (for a tiny model of the same class, built here) and the sizes of the run (a few steps of
batch 2). Everything else — family, LoRA targets and ranks, modules trained in full, the
quantized base, warm-up, the post-training quantization — is the recipe's own. On a CPU the
16-bit mixed precision a recipe asks for is also swapped for fp32 (see `cpu_train_params`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tiny_models
import torch
from tiny_models import ANSWERS, QUESTIONS, example_images

from abo_vqa.config import ParamsError, load_yaml
from abo_vqa.lora_targets import check_lora_targets
from abo_vqa.models import load_vqa_model
from abo_vqa.models.labels import IGNORE_INDEX
from abo_vqa.models.lora import attach_adapter, bnb_config
from abo_vqa.params import LoraParams, Params, QuantizeParams, TrainParams
from abo_vqa.quantize import load_variant, merge_adapter
from abo_vqa.recipes import (
    FIXED_OVERHEAD_GB,
    check_recipe,
    flatten,
    gpu_memory_estimate_gb,
    load_recipe,
    override_args,
    recipe_names,
)
from abo_vqa.synthetic.tiny import TinyBlipSpec, build_tiny_blip
from abo_vqa.train import QADataset, train_lora

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"
PROJECT_PARAMS = load_yaml(REPO / "params.yaml")
SEED_SYSTEMS = (
    "a-blip",
    "a-llava",
    "a-qwen",
    "b-blip-nf4",
    "c-blip2",
    "d-vilt",
    "e-instructblip",
)
VILT_LABELS = ("red", "2", "yes", "wood", "no")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- tiny models of each recipe's class ---------------------------------------------------------


def _save_tiny_blip(path: Path) -> Path:
    # Width 64: bitsandbytes' 4-bit CPU kernels need linear inputs divisible by 64.
    spec = TinyBlipSpec(
        image_size=32, patch_size=8, hidden_size=64, num_heads=2, vision_layers=1, text_layers=1
    )
    model, processor = build_tiny_blip(tiny_models.TINY_BLIP_WORDS, image_size=32, spec=spec)
    model.save_pretrained(str(path))
    processor.save_pretrained(str(path))
    return path


TINY: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "Salesforce/blip-vqa-base": ("BlipForQuestionAnswering", _save_tiny_blip),
    "llava-hf/llava-1.5-7b-hf": ("LlavaForConditionalGeneration", tiny_models.save_tiny_llava),
    "Qwen/Qwen2.5-VL-7B-Instruct": ("Qwen2_5_VLForConditionalGeneration", None),  # in memory
    "Salesforce/blip2-opt-2.7b": ("Blip2ForConditionalGeneration", tiny_models.save_tiny_blip2),
    "dandelin/vilt-b32-finetuned-vqa": (
        "ViltForQuestionAnswering",
        lambda p: tiny_models.save_tiny_vilt(p, VILT_LABELS),
    ),
    "Salesforce/instructblip-vicuna-7b": (
        "InstructBlipForConditionalGeneration",
        tiny_models.save_tiny_instructblip,
    ),
}
"""Hub id → (the class the hub checkpoint loads as, a builder of a tiny one of that class)."""


class TinyQwen:
    """Qwen2.5-VL built in memory: without torchvision its processor cannot be reloaded from a
    directory (see tiny_models.image_only_processor_class), so it is reused, not reloaded."""

    def __init__(self, folder: Path):
        model, self.processor = tiny_models.build_tiny_qwen2_vl("2.5")
        model.save_pretrained(str(folder))
        self.folder = folder

    def load(self, folder: Path | None = None, quantization_config: Any = None, dtype="auto"):
        from transformers import Qwen2_5_VLForConditionalGeneration

        from abo_vqa.models.chat import ChatVQAModel
        from abo_vqa.models.loading import input_device, pretrained_kwargs

        path = str(folder or self.folder)
        kwargs = pretrained_kwargs(path, dtype=dtype, quantization_config=quantization_config)
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(path, **kwargs).eval()
        return ChatVQAModel(model, self.processor, input_device(model))


def cpu_train_params(train: TrainParams) -> TrainParams:
    """The recipe's training params at test size; on a CPU, in fp32.

    fp16 mixed precision needs a GPU (its gradient scaler is CUDA's), and bf16 autocast on a CPU
    only slows a tiny model down: on a CPU the precision becomes fp32. Nothing else changes.
    """
    sizes = {"max_steps": 3, "batch_size": 2, "grad_accum": 1, "eval_steps": 3}
    if not torch.cuda.is_available():
        sizes["precision"] = "fp32"
    return dataclasses.replace(train, **sizes)


@dataclasses.dataclass
class Built:
    family: str
    model_class: str
    load: Callable[..., Any]
    """load(folder=None, quantization_config=None, dtype="auto") → VQAModel."""


def build_tiny(base: str, family: str, folder: Path) -> Built:
    model_class, save = TINY[base]
    if save is None:
        qwen = TinyQwen(folder)
        return Built(family, model_class, qwen.load)
    save(folder)

    def load(path: Path | None = None, quantization_config: Any = None, dtype: str = "auto"):
        return load_vqa_model(
            str(path or folder), family=family, dtype=dtype, quantization_config=quantization_config
        )

    return Built(family, model_class, load)


def recipe_params(name: str, variant: str = "") -> Params:
    return check_recipe(load_recipe(RECIPES, name, variant), PROJECT_PARAMS)


# --- the recipes as files and as `-S` arguments -------------------------------------------------


def test_every_seed_system_has_a_recipe_and_nothing_else_is_there():
    assert recipe_names(RECIPES) == sorted(SEED_SYSTEMS)


@pytest.mark.parametrize("name", SEED_SYSTEMS)
def test_a_recipe_names_every_setting_its_run_is_defined_by(name):
    recipe = load_recipe(RECIPES, name)
    keys = set(flatten(recipe.params))
    required = {
        "model.family",
        "model.base",
        "lora.r",
        "lora.alpha",
        "lora.target_modules",
        "lora.modules_to_save",
        "train.quantize_base",
        "train.precision",
        "train.learning_rate",
        "train.epochs",
        "train.batch_size",
        "train.warmup_ratio",
        "train.warmup_steps",
        "quantize.method",
    }
    assert required <= keys, f"{name} leaves {sorted(required - keys)} to params.yaml"
    assert recipe.parameters > 0 and recipe.summary and recipe.reproduces
    assert TINY[recipe.params["model"]["base"]], "a tiny model of the recipe's class exists"


@pytest.mark.parametrize(
    ("name", "variant"), [*((n, "") for n in SEED_SYSTEMS), ("e-instructblip", "r32")]
)
def test_dvc_reads_the_printed_arguments_back_to_the_recipe_params(name, variant, tmp_path):
    """`dvc exp run $(abo-vqa recipe NAME)`: the words the shell splits the output into, applied
    by DVC's own `-S` code to params.yaml, give exactly the params the recipe describes."""
    from dvc.utils.hydra import apply_overrides

    from abo_vqa.params import load_params

    command = [sys.executable, "-m", "abo_vqa.cli", "recipe", name]
    if variant:
        command += ["--variant", variant]
    printed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout
    words = printed.split()  # what unquoted $(…) hands to dvc: split on whitespace only
    assert words[::2] == ["-S"] * (len(words) // 2)
    params_file = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params_file)
    apply_overrides(str(params_file), words[1::2])
    assert load_params(params_file) == recipe_params(name, variant)


def test_the_variant_changes_only_the_rank():
    base, variant = recipe_params("e-instructblip"), recipe_params("e-instructblip", "r32")
    assert (base.lora.r, base.lora.alpha) == (64, 128)
    assert (variant.lora.r, variant.lora.alpha) == (32, 64)
    assert dataclasses.replace(variant, lora=base.lora) == base


def test_list_shows_one_line_per_recipe():
    printed = subprocess.run(
        [sys.executable, "-m", "abo_vqa.cli", "recipe", "--list"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert [line.split()[0] for line in printed] == sorted(SEED_SYSTEMS)


def test_warmup_is_the_larger_of_its_steps_and_its_ratio():
    params = recipe_params("b-blip-nf4")
    assert (params.train.warmup_steps, params.train.warmup_ratio) == (100, 0.1)
    assert params.train.epochs == 3 and params.train.learning_rate == 5e-5
    assert params.quantize.method == "nf4" and params.quantize.double_quant
    assert params.quantize.compute_dtype == "bfloat16"


def test_a_recipe_with_a_bad_value_or_key_fails_naming_the_file(tmp_path):
    folder = tmp_path / "recipes"
    folder.mkdir()
    text = (RECIPES / "a-blip.yaml").read_text()
    (folder / "bad-rank.yaml").write_text(text.replace("r: 16,", "r: 0,"))
    (folder / "bad-key.yaml").write_text(text.replace("r: 16,", "rank: 16,"))
    (folder / "bad-word.yaml").write_text(
        text.replace("target_modules: all-linear", "target_modules: 'q proj'")
    )
    with pytest.raises(ParamsError, match=r"bad-rank\.yaml: lora\.r: must be positive"):
        check_recipe(load_recipe(folder, "bad-rank"), PROJECT_PARAMS)
    with pytest.raises(ParamsError, match=r"bad-key\.yaml: lora\.rank is not a key of params"):
        check_recipe(load_recipe(folder, "bad-key"), PROJECT_PARAMS)
    with pytest.raises(ParamsError, match=r"bad-word\.yaml: lora\.target_modules: 'q proj'"):
        override_args(load_recipe(folder, "bad-word"), PROJECT_PARAMS)
    with pytest.raises(ParamsError, match=r"no recipe 'nope'.*bad-key, bad-rank, bad-word"):
        load_recipe(folder, "nope")
    result = subprocess.run(
        [sys.executable, "-m", "abo_vqa.cli", "recipe", "bad-rank", "--dir", str(folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and not result.stdout
    assert result.stderr.count("\n") == 1 and "lora.r: must be positive" in result.stderr


def test_gpu_memory_estimate_follows_the_quantized_base():
    def weights(name: str) -> float:
        return gpu_memory_estimate_gb(7_000_000_000, recipe_params(name)) - FIXED_OVERHEAD_GB

    four_bit, eight_bit, sixteen = (weights(n) for n in ("a-llava", "a-qwen", "e-instructblip"))
    assert four_bit * 2 == pytest.approx(eight_bit) and eight_bit * 2 == pytest.approx(sixteen)
    assert sixteen == pytest.approx(7 * 2 * 1.2)


# --- LoRA target names must exist ------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory) -> Path:
    return _save_tiny_blip(tmp_path_factory.mktemp("tiny_blip"))


def test_a_typo_in_a_target_list_stops_training_naming_it(tiny_blip, tmp_path):
    vqa = load_vqa_model(str(tiny_blip), family="blip")
    with pytest.raises(
        ParamsError,
        match=r"lora\.target_modules: 'kye' matches no module of "
        r"BlipForQuestionAnswering \(did you mean key",
    ):
        check_lora_targets(vqa.model, ("query", "kye", "value"))
    with pytest.raises(ParamsError, match=r"lora\.target_modules: the pattern"):
        check_lora_targets(vqa.model, r".*\.nothing_here")
    with pytest.raises(ParamsError, match=r"lora\.modules_to_save: 'clasifier'"):
        check_lora_targets(vqa.model, "all-linear", ("clasifier",))
    check_lora_targets(vqa.model, ("query", "key", "value"))
    check_lora_targets(vqa.model, "all-linear")
    rows = [{"image_id": "0", "question": QUESTIONS[0], "answer": ANSWERS[0]}]
    images = {"0": example_images()[0]}
    with pytest.raises(ParamsError, match="'gate_proj' matches no module"):
        train_lora(
            vqa,
            QADataset(rows, images),
            QADataset(rows, images),
            lora=LoraParams(target_modules=("query", "gate_proj")),
            train=TrainParams(max_steps=1, batch_size=1),
            checkpoint_dir=tmp_path / "checkpoints",
        )


# --- each recipe on its tiny model -----------------------------------------------------------


def _answer_only_labels(vqa, family: str) -> None:
    """Training labels carry the answer and nothing of the prompt, image or padding."""
    batch = vqa.training_batch(example_images(), QUESTIONS, ANSWERS)
    labels = batch["labels"]
    if family == "vilt":
        label2id = vqa.model.config.label2id
        assert [int(row.argmax()) for row in labels] == [label2id[a] for a in ANSWERS]
        return
    tokenizer = vqa.processor.tokenizer
    for row, answer in zip(labels, ANSWERS, strict=True):
        text = tokenizer.decode(row[row != IGNORE_INDEX], skip_special_tokens=True)
        assert text.strip() == answer


def _quantized_layers(model: torch.nn.Module) -> set[str]:
    return {type(m).__name__ for m in model.modules()}


EXPECTED_LAYER = {"nf4": "Linear4bit", "fp4": "Linear4bit", "int8": "Linear8bitLt"}


@pytest.mark.parametrize("name", SEED_SYSTEMS)
def test_recipe_trains_quantizes_and_answers_on_a_tiny_model_of_its_class(name, tmp_path):
    params = recipe_params(name)
    built = build_tiny(params.model.base, params.model.family, tmp_path / "base")

    # Loaded as the train_lora stage loads it: the recipe's quantized base, if any.
    quantize_base = params.train.quantize_base
    config = (
        None
        if quantize_base == "none"
        else bnb_config(
            QuantizeParams(method=quantize_base, double_quant=True), family=params.model.family
        )
    )
    vqa = built.load(quantization_config=config)
    assert type(vqa.model).__name__ == built.model_class
    if quantize_base != "none":
        assert EXPECTED_LAYER[quantize_base] in _quantized_layers(vqa.model)
    _answer_only_labels(vqa, params.model.family)

    rows = [
        {"image_id": str(i), "question": q, "answer": a}
        for i, (q, a) in enumerate(zip(QUESTIONS, ANSWERS, strict=True))
    ]
    images = dict(zip((r["image_id"] for r in rows), example_images(), strict=True))
    result = train_lora(
        vqa,
        QADataset(rows, images),
        QADataset(rows, images),
        lora=params.lora,
        train=cpu_train_params(params.train),
        checkpoint_dir=tmp_path / "checkpoints",
    )
    assert result.metrics["steps"] == 3
    assert math.isfinite(result.metrics["final_train_loss"])
    assert math.isfinite(result.metrics["best_eval_loss"])

    # Every target name of the recipe wraps at least one module, with the recipe's rank.
    wrapped = {n: m for n, m in result.model.named_modules() if hasattr(m, "lora_A")}
    assert wrapped
    targets = params.lora.target_modules
    if not isinstance(targets, str):
        for target in targets:
            assert any(n == target or n.endswith("." + target) for n in wrapped), target
    ranks = {m.r["default"] for m in wrapped.values()}
    assert ranks == {params.lora.r}
    trained_whole = {n for n, p in result.model.named_parameters() if p.requires_grad}
    for module in params.lora.modules_to_save:
        assert any(f".{module}.modules_to_save." in n for n in trained_whole), module

    # The quantize stage's path: adapter onto the full-precision base, merge, save, load the
    # recipe's post-training quantization, answer.
    adapter = tmp_path / "adapter"
    result.model.save_pretrained(str(adapter))
    merged = merge_adapter(attach_adapter(built.load(dtype="float32"), adapter))
    if built.model_class.startswith("Qwen2_5"):
        # Its processor without torchvision cannot be saved either: the weights alone.
        merged.model.save_pretrained(str(tmp_path / "merged"))
        quantized = built.load(
            tmp_path / "merged",
            quantization_config=bnb_config(params.quantize, family=params.model.family),
            dtype="bfloat16" if params.quantize.method == "bf16" else "float32",
        )
    else:
        merged.save(tmp_path / "merged")
        quantized = load_variant(tmp_path / "merged", params.quantize, params.model.family)
    method = params.quantize.method
    if method in EXPECTED_LAYER:
        assert EXPECTED_LAYER[method] in _quantized_layers(quantized.model)
    answers = quantized.predict(example_images(), QUESTIONS)
    assert len(answers) == len(QUESTIONS)
    assert all(isinstance(answer, str) for answer in answers)
    if params.model.family == "vilt":
        assert set(answers) <= set(VILT_LABELS)


def test_run_hands_exactly_the_printed_arguments_to_dvc_exp_run(tmp_path):
    """`abo-vqa recipe NAME --run`: the same arguments, with no shell in between."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    record = tmp_path / "argv.json"
    fake = fake_bin / "dvc"
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"}
    command = [sys.executable, "-m", "abo_vqa.cli", "recipe", "c-blip2"]
    printed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    subprocess.run([*command, "--run"], cwd=REPO, env=env, check=True, capture_output=True)
    assert json.loads(record.read_text()) == ["exp", "run", *printed.stdout.split()]
