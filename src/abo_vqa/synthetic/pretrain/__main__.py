"""Build the offline base model: `python -m abo_vqa.synthetic.pretrain [--out DIR] [--steps N] ...`.

Pretrains the tiny BLIP on synthetic scenes and writes it (fp16 safetensors, tokenizer, processor),
`build_info.json` (the build parameters and figures, no timestamps) and a README into `--out`.
Run it under `nice`: it keeps both cores busy for the whole run.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path

import torch
import transformers

from abo_vqa.stage import ArgumentParser
from abo_vqa.synthetic.pretrain.scenes import BACKGROUNDS, FILLS, SHAPES
from abo_vqa.synthetic.pretrain.train import PretrainConfig, pretrain

DEFAULT_OUT = Path("models/base/tiny-blip-vqa")


COMMAND_LINE_SETTINGS: tuple[str, ...] = (
    "seed",
    "steps",
    "scenes_per_step",
    "questions_per_scene",
    "learning_rate",
    "echo_rate",
    "threads",
)
"""The PretrainConfig fields the command line sets, in the order `command_line` writes them; the
others keep their defaults."""


def _flag(setting: str) -> str:
    return "--" + setting.replace("_", "-")


def _parse(argv: list[str] | None) -> tuple[Path, PretrainConfig]:
    defaults = PretrainConfig()
    parser = ArgumentParser(prog="python -m abo_vqa.synthetic.pretrain", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    for setting in COMMAND_LINE_SETTINGS:
        default = getattr(defaults, setting)
        parser.add_argument(_flag(setting), type=type(default), default=default)
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file; the model is written into a folder")
    try:
        config = PretrainConfig(**{s: getattr(args, s) for s in COMMAND_LINE_SETTINGS})
    except ValueError as error:
        parser.error(f"--{str(error).replace('_', '-')}")
    return args.out, config


def command_line(out: Path, config: PretrainConfig) -> str:
    """The command that rebuilds exactly this model."""
    settings = " ".join(f"{_flag(s)} {getattr(config, s)}" for s in COMMAND_LINE_SETTINGS)
    return f"nice -n 10 python -m abo_vqa.synthetic.pretrain --out {out} {settings}"


def build_info(out: Path, config: PretrainConfig, figures: dict) -> dict:
    """What build_info.json records: parameters, environment versions, figures (no timestamps)."""
    return {
        "command": command_line(out, config),
        "config": asdict(config),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "saved_dtype": "float16",
        "figures": {k: v for k, v in figures.items() if k != "train_seconds"},
    }


def readme(info: dict) -> str:
    """The model card written beside the weights (a pure function of build_info)."""
    config, figures = info["config"], info["figures"]
    spec = config["spec"]
    counts = figures["validation_examples_by_kind"]
    accuracy = "\n".join(
        f"| {kind} | {counts.get(kind, sum(counts.values()))} | {value:.3f} |"
        for kind, value in figures["validation_exact_match"].items()
    )
    architecture = (
        f"vision: {spec['vision_layers']} layers; question encoder and answer decoder: "
        f"{spec['text_layers']} layers each; hidden size {spec['hidden_size']}; "
        f"{spec['image_size']} px images in {spec['patch_size']} px patches"
    )
    training = (
        f"{config['steps']} steps of {config['scenes_per_step']} fresh scenes with "
        f"{config['questions_per_scene']} questions each ({figures['train_questions']} questions "
        f"in all), AdamW at a peak learning rate of {config['learning_rate']} (warm-up, then "
        f"cosine decay), on {config['threads']} CPU thread(s)"
    )
    curve = ", ".join(f"{p['step']}: {p['exact_match']:.2f}" for p in figures["exact_match_curve"])
    return f"""# tiny-blip-vqa — the offline base model

A {figures["parameters"] / 1e6:.1f} M-parameter `BlipForQuestionAnswering` ({architecture})
with its own WordPiece vocabulary of {figures["vocab_size"]} tokens: every canonical answer word of
`abo_vqa.vocabulary` is one token, and any other word still tokenizes through single characters.

It lets the pipeline run with no network: `model.base` defaults to this directory. It is **not** a
good VQA model; it exists so that LoRA on the embedded catalogue sample has something to improve.
Load it with `abo_vqa.models.load_vqa_model("models/base/tiny-blip-vqa")`.

## How it was built
Pretrained from scratch (full fine-tuning) on CPU by `abo_vqa/synthetic/pretrain/`, on synthetic
scenes the project renders: geometric objects ({", ".join(SHAPES)}) in the catalogue's colour names,
plain or with a surface pattern ({", ".join(FILLS[1:])}) in a shade of their colour, some with a
dark outline, on {", ".join(BACKGROUNDS)} backgrounds (half the plain ones light). Questions ask the
colour of the main, named, biggest or smallest object or of the background, the kind of
background, an object's pattern, count objects or one shape, name a shape, and check colour, shape
or existence with yes/no. {config["echo_rate"]:.0%} of questions
are a text-only "repeat the word …" task over the answer vocabulary: it keeps every answer word's
output embedding reachable for a later LoRA (which leaves the tied output head alone) without
tying any product word to an image.

Nothing here is a catalogue product (no product silhouettes, no materials, and the pattern names
are not the catalogue's): product type, material, product shape and style are left for LoRA to
learn, and so is the naming of catalogue patterns; colour, count and yes/no transfer in part.

```
{info["command"]}
```

{training}; torch {info["torch"]}, transformers {info["transformers"]}. Final training loss
{figures["final_loss"]}. Weights are saved in float16.

Exact match on held-out scenes (one question each):

| question kind | questions | exact match |
|---|---|---|
{accuracy}

Exact match during training (first {config["eval_examples"]} held-out scenes), by step: {curve}.

## Reproducibility
Examples are pure functions of (seed, index), initial weights come from the seed, and training
runs with `torch.use_deterministic_algorithms(True)` and a fixed thread count: a rebuild with the
same command, torch version and thread count gives the same weights (the thread count matters:
CPU reductions split their work by thread). `build_info.json` records all of these. `dvc repro`
does not rebuild the model; it ships in the repository.
"""


def main(argv: list[str] | None = None) -> None:
    out, config = _parse(argv)
    vqa, figures = pretrain(config)
    out.mkdir(parents=True, exist_ok=True)
    vqa.model.half()
    vqa.save(out)
    info = build_info(out, config, figures)
    (out / "build_info.json").write_text(json.dumps(info, indent=2) + "\n")
    (out / "README.md").write_text(readme(info))
    print(f"wrote {out} (training took {figures['train_seconds']} s)")


if __name__ == "__main__":
    main()
