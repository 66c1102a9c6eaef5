"""Model cards: what a model folder holds, and the standard code that loads it.

A card's first ```python block is a contract, run by tests/test_cards.py: with `THIS_FOLDER`
replaced by the folder's path, it runs in a fresh interpreter that has abo-vqa's dependencies but
imports nothing of abo_vqa, and defines `model` and `processor`, which then answer the test split
exactly as the pipeline's own predictions of that model did. The second block asks one question.

The pipeline writes a card into each model folder it makes (models/adapter, models/merged,
models/quantized), so a folder fetched with `dvc pull` or `dvc artifacts get` says how to load
itself; `abo-vqa export model` writes the published card, with the test metrics added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from abo_vqa.params import LoraParams, Params

ABO_LICENSE = "cc-by-nc-4.0"
ABO_URL = "https://amazon-berkeley-objects.s3.amazonaws.com/index.html"
ABO_CITATION = """@inproceedings{collins2022abo,
  title     = {{ABO}: Dataset and Benchmarks for Real-World {3D} Object Understanding},
  author    = {Collins, Jasmine and Goel, Shubham and Deng, Kenan and Luthra, Achleshwar and
               Xu, Leon and Gundogdu, Erhan and Zhang, Xi and Yago Vicente, Tomas F. and
               Dideriksen, Thomas and Arora, Himanshu and Guillaumin, Matthieu and
               Malik, Jitendra},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern
               Recognition (CVPR)},
  year      = {2022}
}"""

THIS_FOLDER = "THIS_FOLDER"
"""Stands for the folder's own path in a card's code (the folder may be moved or published)."""

MODEL_CLASSES: dict[str, tuple[str, str]] = {
    "blip": ("BlipForQuestionAnswering", "BlipProcessor"),
    "vilt": ("ViltForQuestionAnswering", "ViltProcessor"),
    "blip2": ("Blip2ForConditionalGeneration", "Blip2Processor"),
    "instructblip": ("InstructBlipForConditionalGeneration", "InstructBlipProcessor"),
    "chat": ("AutoModelForImageTextToText", "AutoProcessor"),
}
"""Model family -> the transformers model and processor classes its folders load with."""

VARIANTS: dict[str, str] = {
    "adapter": (
        "the LoRA adapter, with the processor whose tokenizer holds any answer words training "
        "added: load it onto the base model"
    ),
    "merged": "the fine-tuned model, its LoRA adapter merged into the weights (no peft needed)",
    "quantized": (
        "the merged fine-tuned model quantized with bitsandbytes ({method}); loading it needs "
        "bitsandbytes, and its quantization settings are in config.json"
    ),
}
"""What a folder of each variant holds, in the card's words."""

SYNTHETIC_MARK = "(synthetic)"
"""The first line of a generated catalogue's README.md carries this (the embedded sample's does)."""

PEFT_NEEDED = (
    "Load it with PEFT 0.22 or newer. The adapter trains rows of the output layer, and earlier "
    "PEFT releases compute those rows without the layer's bias, so their answers differ from the "
    "ones measured here."
)
"""A BLIP adapter card's note below its loading code."""


def is_synthetic_catalogue(abo_root: str | Path) -> bool:
    """Whether `abo_root` is a catalogue abo-vqa generated rather than an ABO download."""
    readme = Path(abo_root) / "README.md"
    if not readme.is_file():
        return False
    lines = readme.read_text(encoding="utf-8").splitlines()
    return bool(lines) and SYNTHETIC_MARK in lines[0]


def lora_text(lora: LoraParams) -> str:
    """The LoRA settings that shape an adapter, as a card states them."""
    targets = lora.target_modules
    shown = targets if isinstance(targets, str) else ", ".join(targets)
    return (
        f"r = {lora.r}, alpha = {lora.alpha}, dropout = {lora.dropout}, "
        f"target modules = {shown}, bias = {lora.bias}"
    )


def loading_code(variant: str, family: str, base_model: str) -> list[str]:
    """The card's first code block: plain transformers (and peft) code that defines `model` and
    `processor` from THIS_FOLDER, in float32 as the pipeline measured them on a CPU (the shipped
    base is stored in float16, which `from_pretrained` would otherwise keep: its answers then
    differ on near ties)."""
    model_class, processor_class = MODEL_CLASSES[family]
    lines = ["import torch", f"from transformers import {model_class}, {processor_class}", ""]
    if variant != "adapter":
        return [
            *lines,
            f'processor = {processor_class}.from_pretrained("{THIS_FOLDER}")',
            f'model = {model_class}.from_pretrained("{THIS_FOLDER}", dtype=torch.float32).eval()',
        ]
    lines = ["import torch", "from peft import PeftModel", *lines[1:]]
    lines += [
        f'processor = {processor_class}.from_pretrained("{THIS_FOLDER}")',
        f'model = {model_class}.from_pretrained("{base_model}", dtype=torch.float32)',
    ]
    if family == "blip":
        lines += [
            "# The adapter's tokenizer may hold answer words the base lacks: a row for each,",
            "# whose trained values the adapter brings.",
            "model.text_encoder.resize_token_embeddings(len(processor.tokenizer))",
            "model.text_decoder.resize_token_embeddings(len(processor.tokenizer))",
        ]
    return [*lines, f'model = PeftModel.from_pretrained(model, "{THIS_FOLDER}").eval()']


def asking_code(family: str, max_new_tokens: int) -> list[str]:
    """The card's second code block: one question about one image."""
    ask = [
        "from PIL import Image",
        "",
        'image = Image.open("product.jpg").convert("RGB")',
        'question = "what color is the chair?"',
    ]
    if family == "vilt":
        return [
            *ask,
            'logits = model(**processor(image, question, return_tensors="pt")).logits',
            "print(model.config.id2label[logits.argmax(-1).item()])",
        ]
    if family != "blip":
        return [
            *ask,
            "# Prompt the model as its family expects (abo-vqa asks "
            '"Question: ... Answer:" or a chat turn).',
        ]
    return [
        *ask,
        'inputs = processor(images=image, text=question, return_tensors="pt")',
        f"output = model.generate(**inputs, max_new_tokens={max_new_tokens})",
        "print(processor.decode(output[0], skip_special_tokens=True))",
    ]


@dataclass(frozen=True)
class CardModel:
    """What a model card says of the model in its folder."""

    variant: str
    """adapter, merged or quantized (see `VARIANTS`)."""
    family: str
    base_model: str
    lora: str
    """The LoRA settings, as text (`lora_text`)."""
    max_new_tokens: int
    synthetic: bool
    """Whether the training data came from the embedded synthetic catalogue."""


def pipeline_card_model(variant: str, params: Params) -> CardModel:
    """The pipeline's model `variant`, as `params` made it."""
    return CardModel(
        variant=variant,
        family=params.model.family,
        base_model=params.model.base,
        lora=lora_text(params.lora),
        max_new_tokens=params.model.max_new_tokens,
        synthetic=is_synthetic_catalogue(params.data.abo_root),
    )


def card_header(model: CardModel) -> list[str]:
    """The card's YAML header: the Hub's metadata."""
    library = "peft" if model.variant == "adapter" else "transformers"
    tags = "tags:\n- lora\n- vqa\n- amazon-berkeley-objects"
    return [
        "---",
        f"license: {ABO_LICENSE}",
        f"base_model: {model.base_model}",
        f"library_name: {library}",
        "pipeline_tag: visual-question-answering",
        tags + ("\n- synthetic" if model.synthetic else ""),
        "---",
    ]


def model_card(
    model: CardModel, *, quantization_method: str = "", sections: Sequence[str] = ()
) -> str:
    """A model folder's README (Hub card metadata in its YAML header): what it holds, the code
    that loads it and asks it, its LoRA settings, then `sections` (markdown, e.g. test metrics),
    the licence and ABO's citation."""
    variant, family, base_model = model.variant, model.family, model.base_model
    holds = VARIANTS[variant].format(method=quantization_method or "see config.json")
    local_base = "/" in base_model and Path(base_model).exists()
    body = [
        f"# abo-vqa {variant} ({family})",
        "",
        f"This folder holds {holds}. It was fine-tuned with LoRA by the abo-vqa pipeline on "
        "one-word questions about product images of the Amazon Berkeley Objects catalogue.",
        "",
        *(
            [
                "**Synthetic data.** The dataset came from the embedded sample, a small catalogue "
                "abo-vqa generates in ABO's format so that the pipeline runs offline: its listings "
                "and images are not ABO's, and the figures below show that the pipeline works, "
                "not how the model does on real products.",
                "",
            ]
            if model.synthetic
            else []
        ),
        f"- Base model: `{base_model}`"
        + (" (a local folder: publish it too, and load it from there)" if local_base else ""),
        f"- LoRA: {model.lora}",
        "",
        "## Load it",
        "",
        "```python",
        *loading_code(variant, family, base_model),
        "```",
        "",
        # Only BLIP's adapters train output-layer rows (its vocabulary grows; the others' stays).
        *([PEFT_NEEDED, ""] if variant == "adapter" and family == "blip" else []),
        "## Ask it",
        "",
        "```python",
        *asking_code(family, model.max_new_tokens),
        "```",
        "",
        "The pipeline scores the answer's first word, lowercased and without punctuation.",
        "",
        *[line for section in sections for line in (section, "")],
        "## Licence",
        "",
        "Trained on data derived from ABO (CC BY-NC 4.0): non-commercial use. Cite ABO:",
    ]
    return card_text(card_header(model), body)


def card_text(header: Sequence[str], body: Sequence[str]) -> str:
    """A card's text: YAML header, body, then ABO's citation (every card ends with it)."""
    citation = ["", "```bibtex", ABO_CITATION, "```", ""]
    return "\n".join(header) + "\n\n" + "\n".join([*body, *citation])


def first_python_block(card: str) -> str:
    """The code of a card's first ```python block (the loading contract)."""
    lines = card.splitlines()
    start = lines.index("```python") + 1
    return "\n".join(lines[start : lines.index("```", start)]) + "\n"


def write_pipeline_card(folder: Path, variant: str, params: Params) -> None:
    """Write the card of a model folder the pipeline made (README.md, replacing any): how to load
    it, without the test metrics, which `abo-vqa export model` adds."""
    card = model_card(
        pipeline_card_model(variant, params),
        quantization_method=params.quantize.method if variant == "quantized" else "",
        sections=[
            "## Test metrics\n\nIn the pipeline's metrics/final_eval.json; "
            "`abo-vqa export model` writes a card with them."
        ],
    )
    (Path(folder) / "README.md").write_text(card, encoding="utf-8")
