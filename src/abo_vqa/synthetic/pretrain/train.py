"""Pretraining the tiny BLIP from scratch on synthetic scenes (full fine-tuning, AdamW, CPU).

Deterministic: examples are pure functions of (seed, index), the model's initial weights come from
the seed, and torch runs with a fixed thread count and deterministic algorithms. The same torch
version and thread count then give the same weights, bit for bit.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from transformers import BlipForQuestionAnswering

from abo_vqa.models.blip import BlipVQAModel, answer_loss_from_image_embeds
from abo_vqa.models.words import CATALOGUE_QUESTION_WORDS, COMMON_WORDS
from abo_vqa.synthetic.pretrain.scenes import Example, Question, pretraining_words, sample_example
from abo_vqa.synthetic.tiny import TinyBlipSpec, build_tiny_blip
from abo_vqa.vocabulary import all_answer_words


@dataclass(frozen=True)
class PretrainConfig:
    seed: int = 0
    steps: int = 2400
    scenes_per_step: int = 32
    questions_per_scene: int = 6
    """Questions share their scene's vision pass (the costliest part), so several per scene
    make a step cheaper per question."""
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    echo_rate: float = 0.05
    """Share of examples that are the text-only echo task (see scenes.echo_question)."""
    threads: int = 1
    val_examples: int = 768
    log_every: int = 100
    eval_every: int = 250
    """Steps between quick checks of exact match on the first `eval_examples` held-out scenes."""
    eval_examples: int = 128
    spec: TinyBlipSpec = field(default_factory=TinyBlipSpec)

    def __post_init__(self) -> None:
        # Checked here, not 30 minutes into a run; the message names the setting.
        for name in (
            "steps",
            "scenes_per_step",
            "questions_per_scene",
            "threads",
            "val_examples",
            "log_every",
            "eval_every",
            "eval_examples",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must not be negative, got {self.warmup_steps}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.echo_rate < 1:
            raise ValueError(f"echo_rate must be in [0, 1), got {self.echo_rate}")


def base_vocabulary() -> tuple[str, ...]:
    """The whole words of the base model's tokenizer, answer words first (stable ids)."""
    return tuple(
        dict.fromkeys(
            [*all_answer_words(), *CATALOGUE_QUESTION_WORDS, *pretraining_words(), *COMMON_WORDS]
        )
    )


def echo_words() -> tuple[str, ...]:
    """Words the echo task repeats: every answer word and every pretraining word."""
    return tuple(dict.fromkeys([*all_answer_words(), *pretraining_words()]))


def training_example(config: PretrainConfig, index: int) -> Example:
    """Training scene number `index` with its questions (a pure function of seed and index)."""
    return sample_example(
        f"{config.seed}:train:{index}", config.questions_per_scene, echo_words(), config.echo_rate
    )


def validation_examples(config: PretrainConfig) -> list[Example]:
    """Held-out scenes (a disjoint seed space), one question each, no echo questions."""
    return [sample_example(f"{config.seed}:val:{i}") for i in range(config.val_examples)]


def exact_match_by_kind(
    questions: Sequence[Question], predictions: Sequence[str]
) -> dict[str, float]:
    """Exact match per question kind and overall ("all"), rounded to 4 places."""
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for question, prediction in zip(questions, predictions, strict=True):
        for key in (question.kind, "all"):
            totals[key] += 1
            hits[key] += prediction.strip().lower() == question.answer
    return {key: round(hits[key] / totals[key], 4) for key in sorted(totals)}


def shared_image_loss(
    model: BlipForQuestionAnswering, batch: dict[str, torch.Tensor], questions_per_image: int
) -> torch.Tensor:
    """`BlipForQuestionAnswering.forward`'s loss, with one vision pass per image.

    `batch["pixel_values"]` holds one row per image; every other tensor one row per question,
    the questions of an image consecutive. The same computation as the model's forward on the
    images repeated per question, without running the vision tower again for each.
    """
    image_embeds = model.vision_model(pixel_values=batch["pixel_values"]).last_hidden_state
    image_embeds = image_embeds.repeat_interleave(questions_per_image, dim=0)  # (B*k, P, H)
    return answer_loss_from_image_embeds(model, batch, image_embeds)


def scene_batch(vqa: BlipVQAModel, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
    """Model inputs for `shared_image_loss`: one image row per scene, one text row per question."""
    questions = [q for example in examples for q in example.questions]
    return {
        "pixel_values": vqa.encode_images([example.image for example in examples]),
        **vqa.encode_questions([q.text for q in questions]),
        **vqa.encode_answers([q.answer for q in questions]),
    }


def _validate(vqa: BlipVQAModel, examples: Sequence[Example]) -> dict[str, float]:
    """Exact match per kind of each example's first question (predict leaves train mode as is)."""
    questions = [example.questions[0] for example in examples]
    images = [example.image for example in examples]
    predictions = vqa.predict(images, [q.text for q in questions], batch_size=128)
    return exact_match_by_kind(questions, predictions)


def _lr_factor(step: int, config: PretrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


@contextmanager
def deterministic_torch(threads: int) -> Iterator[None]:
    """Fixed thread count and deterministic kernels inside, the caller's settings restored after.

    The thread count matters: CPU reductions split work by thread, so another count rounds
    differently.
    """
    previous = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1])


def pretrain(
    config: PretrainConfig, log: Callable[[str], None] = print
) -> tuple[BlipVQAModel, dict]:
    """Build the tiny model from `config.seed` and train it; returns it with training figures."""
    with deterministic_torch(config.threads):
        return _pretrain(config, log)


def _pretrain(config: PretrainConfig, log: Callable[[str], None]) -> tuple[BlipVQAModel, dict]:
    model, processor = build_tiny_blip(
        base_vocabulary(), image_size=config.spec.image_size, seed=config.seed, spec=config.spec
    )
    vqa = BlipVQAModel(model, processor, torch.device("cpu"))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config))
    validation = validation_examples(config)
    started = time.perf_counter()
    curve: list[dict[str, float]] = []
    exact_match_curve: list[dict[str, float]] = []
    window: list[float] = []
    model.train()
    for step in range(config.steps):
        first = step * config.scenes_per_step
        examples = [training_example(config, first + j) for j in range(config.scenes_per_step)]
        loss = shared_image_loss(model, scene_batch(vqa, examples), config.questions_per_scene)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        window.append(loss.item())
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            mean_loss = sum(window) / len(window)
            window.clear()
            elapsed = time.perf_counter() - started
            curve.append({"step": step + 1, "loss": round(mean_loss, 4)})
            log(f"step {step + 1}/{config.steps} loss {mean_loss:.4f} ({elapsed:.0f} s)")
        if (step + 1) % config.eval_every == 0 and step + 1 < config.steps:
            quick = validation[: config.eval_examples]
            accuracy = _validate(vqa, quick)
            exact_match_curve.append({"step": step + 1, "exact_match": accuracy["all"]})
            log(f"step {step + 1}: exact match on {len(quick)} held-out scenes {accuracy}")
    train_seconds = time.perf_counter() - started
    accuracy = _validate(vqa, validation)
    exact_match_curve.append({"step": config.steps, "exact_match": accuracy["all"]})
    log(f"validation exact match: {accuracy}")
    questions = [example.questions[0] for example in validation]
    figures = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(processor.tokenizer),
        "train_scenes": config.steps * config.scenes_per_step,
        "train_questions": config.steps * config.scenes_per_step * config.questions_per_scene,
        "train_seconds": round(train_seconds),
        "final_loss": curve[-1]["loss"] if curve else None,
        "loss_curve": curve,
        "exact_match_curve": exact_match_curve,
        "validation_exact_match": accuracy,
        "validation_examples_by_kind": dict(sorted(Counter(q.kind for q in questions).items())),
    }
    return vqa, figures
