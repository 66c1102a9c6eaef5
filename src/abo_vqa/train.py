"""LoRA fine-tuning of a VQAModel with the Hugging Face Trainer.

The Trainer evaluates on the val split every `eval_steps`, keeps `save_total_limit` checkpoints and
loads the best one by eval_loss at the end. Losses and the learning rate go to DVCLive at the
Trainer's global step, so `dvc plots show` draws the curves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, get_peft_model
from PIL import Image
from transformers import Trainer, TrainerCallback, TrainingArguments

from abo_vqa.params import LoraParams, TrainParams


def lora_config(params: LoraParams, exclude_modules: Sequence[str] = ()) -> LoraConfig:
    """The PEFT config for `params`; task_type stays None (typed wrappers break BLIP, GUIDE §4)."""
    targets = params.target_modules
    return LoraConfig(
        r=params.r,
        lora_alpha=params.alpha,
        lora_dropout=params.dropout,
        target_modules=targets if isinstance(targets, str) else list(targets),
        exclude_modules=list(exclude_modules) or None,
        bias=params.bias,
        task_type=None,
    )


class QADataset(torch.utils.data.Dataset):
    """QA rows paired with their already-decoded images (each image decoded once, not per epoch)."""

    def __init__(self, rows: Sequence[Mapping[str, str]], images: Mapping[str, Image.Image]):
        self.rows = list(rows)
        self.images = images

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        return {
            "image": self.images[row["image_id"]],
            "question": row["question"],
            "answer": row["answer"],
        }


class DVCLiveCallback(TrainerCallback):
    """Logs train/eval loss and learning rate to a dvclive.Live at the Trainer's global step."""

    def __init__(self, live: Any):
        self.live = live

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        self.live.step = state.global_step
        for key, name in (
            ("loss", "train/loss"),
            ("learning_rate", "train/learning_rate"),
            ("eval_loss", "eval/loss"),
        ):
            if key in logs:
                self.live.log_metric(name, round(float(logs[key]), 6))


@dataclass(frozen=True)
class TrainResult:
    model: Any
    """The PEFT model holding the best checkpoint's weights."""
    metrics: dict[str, Any]


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def train_lora(
    vqa_model: Any,
    train_dataset: QADataset,
    val_dataset: QADataset,
    *,
    lora: LoraParams,
    train: TrainParams,
    checkpoint_dir: Path,
    live: Any | None = None,
) -> TrainResult:
    """Wrap `vqa_model.model` with LoRA and train it; returns the best model and its metrics."""
    torch.manual_seed(train.seed)
    peft_model = get_peft_model(vqa_model.model, lora_config(lora, vqa_model.lora_exclude_modules))
    trainable, total = count_parameters(peft_model)

    def collate(examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return vqa_model.training_batch(
            [e["image"] for e in examples],
            [e["question"] for e in examples],
            [e["answer"] for e in examples],
        )

    steps_per_epoch = math.ceil(len(train_dataset) / (train.batch_size * train.grad_accum))
    total_steps = (
        train.max_steps if train.max_steps > 0 else math.ceil(steps_per_epoch * train.epochs)
    )
    args = TrainingArguments(
        output_dir=str(checkpoint_dir),
        per_device_train_batch_size=train.batch_size,
        per_device_eval_batch_size=train.batch_size,
        gradient_accumulation_steps=train.grad_accum,
        learning_rate=train.learning_rate,
        weight_decay=train.weight_decay,
        num_train_epochs=train.epochs,
        max_steps=train.max_steps,
        warmup_steps=int(train.warmup_ratio * total_steps),
        eval_strategy="steps",
        eval_steps=train.eval_steps,
        save_strategy="steps",
        save_steps=train.eval_steps,
        save_total_limit=train.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=max(1, min(10, train.eval_steps)),
        seed=train.seed,
        data_seed=train.seed,
        report_to="none",
        remove_unused_columns=False,
        dataloader_pin_memory=False,
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
    )
    trainer = Trainer(
        model=peft_model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=val_dataset,
        data_collator=collate,
        callbacks=[DVCLiveCallback(live)] if live is not None else [],
    )
    started = time.perf_counter()
    output = trainer.train()
    runtime = time.perf_counter() - started
    best_eval = trainer.state.best_metric
    metrics = {
        "trainable_parameters": trainable,
        "total_parameters": total,
        "trainable_fraction": round(trainable / total, 6),
        "steps": trainer.state.global_step,
        "epochs": round(float(trainer.state.epoch or 0), 3),
        "train_loss": round(float(output.training_loss), 6),
        "best_eval_loss": round(float(best_eval), 6) if best_eval is not None else None,
        "best_checkpoint_step": _step_of(trainer.state.best_model_checkpoint),
        "train_runtime_s": round(runtime, 1),
        "train_examples": len(train_dataset),
        "val_examples": len(val_dataset),
    }
    return TrainResult(model=trainer.model, metrics=metrics)


def _step_of(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    return int(Path(checkpoint).name.rsplit("-", 1)[-1])
