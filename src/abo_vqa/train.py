"""LoRA fine-tuning of a VQAModel with the Hugging Face Trainer.

The Trainer evaluates on the val split every `eval_steps`, keeps `save_total_limit` checkpoints and
loads the best one at the end: by the val loss or by the val answers' exact match (`train.best_by`,
see abo_vqa.checkpoint_choice). Losses and the learning rate go to DVCLive at the
Trainer's global step, so `dvc plots show` draws the curves.

Interrupted runs resume: checkpoints live outside DVC's outputs, beside a fingerprint of
everything that shapes training (params, base model, data). A rerun with the same fingerprint
continues from the last checkpoint (optimizer, scheduler and RNG states included); any other
rerun starts fresh, so a changed param never inherits a stale run.

One run is four named steps (`train_lora`): `wrap_for_training` (answer words the base's tokenizer
would split become tokens of their own, abo_vqa.models.vocab; k-bit preparation; the LoRA
wrapper), `training_arguments`, `run_trainer` and `training_metrics`. The adapter folder carries
the processor with the extended tokenizer.

Images are decoded once (QADataset) and preprocessed with their batch's text at every step.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState
from peft import LoraConfig, get_peft_model
from PIL import Image
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from abo_vqa.answers import PostprocessMode
from abo_vqa.blank_images import with_blank_images
from abo_vqa.checkpoint_choice import EXACT_MATCH_KEY, ValExactMatch
from abo_vqa.lora_targets import check_lora_targets
from abo_vqa.models.base import VQAModel
from abo_vqa.models.vocab import grow_for_answers, trainable_token_rows
from abo_vqa.params import LoraParams, Params, TrainParams

log = logging.getLogger(__name__)


def lora_config(
    params: LoraParams,
    exclude_modules: Sequence[str] = (),
    modules_to_save: Sequence[str] = (),
    trainable_token_indices: Mapping[str, Sequence[int]] | None = None,
) -> LoraConfig:
    """The PEFT config for `params`; task_type stays None (PEFT's typed wrappers pass BLIP's
    inputs twice). `modules_to_save` are trained in full (e.g. a classifier head);
    `trainable_token_indices` (embedding module -> token ids) trains those rows only."""
    targets = params.target_modules
    return LoraConfig(
        r=params.r,
        lora_alpha=params.alpha,
        lora_dropout=params.dropout,
        target_modules=targets if isinstance(targets, str) else list(targets),
        exclude_modules=list(exclude_modules) or None,
        modules_to_save=list(modules_to_save) or None,
        trainable_token_indices={k: list(v) for k, v in trainable_token_indices.items()}
        if trainable_token_indices
        else None,
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
            "image_id": row["image_id"],
            "image": self.images[row["image_id"]],
            "question": row["question"],
            "answer": row["answer"],
        }


def training_collate(
    vqa_model: VQAModel,
) -> Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]]:
    """The Trainer's collate: QADataset examples → `vqa_model`'s training batch."""

    def collate(examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        questions = [e["question"] for e in examples]
        answers = [e["answer"] for e in examples]
        return vqa_model.training_batch([e["image"] for e in examples], questions, answers)

    return collate


LIVE_METRICS: tuple[tuple[str, str], ...] = (
    ("loss", "train/loss"),
    ("learning_rate", "train/learning_rate"),
    ("eval_loss", "eval/loss"),
    (EXACT_MATCH_KEY, "eval/exact_match"),
)
"""Trainer log keys → DVCLive metric names (the plot files under plots/metrics/)."""


def log_to_live(live: Any, step: int, logs: Mapping[str, Any]) -> None:
    """Write one Trainer log entry to DVCLive at the Trainer's global step."""
    live.step = step
    for key, name in LIVE_METRICS:
        if key in logs:
            live.log_metric(name, round(float(logs[key]), 6))


def replay_history(live: Any, checkpoint: str | Path) -> None:
    """Re-log a checkpoint's history: DVC deletes a stage's plots before rerunning it, so a
    resumed run would otherwise draw only the steps after the resume point."""
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    for entry in state.get("log_history", []):
        log_to_live(live, int(entry["step"]), entry)


class DVCLiveCallback(TrainerCallback):
    """Logs train/eval loss and learning rate to a dvclive.Live at the Trainer's global step."""

    def __init__(self, live: Any):
        self.live = live

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and state.is_world_process_zero:
            log_to_live(self.live, state.global_step, logs)


@dataclass(frozen=True)
class TrainResult:
    model: Any
    """The PEFT model holding the best checkpoint's weights."""
    metrics: dict[str, Any]
    processor: Any = None
    """The processor to save beside the adapter (its tokenizer holds the words training added),
    so that the adapter folder is all a user needs besides the base model."""


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def resolve_precision(precision: str) -> str:
    """ "fp32", "bf16" or "fp16" for this hardware ("auto": bf16 where CUDA supports it)."""
    if precision != "auto":
        return precision
    if not torch.cuda.is_available():
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def training_fingerprint(settings: Mapping[str, Any], data_files: Sequence[Path]) -> str:
    """A hash of everything that shapes a training run: its settings and its data's bytes.

    `settings` must already exclude what does not change the result (e.g. `resume`).
    """
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in data_files:
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


FINGERPRINT_FILE = "run_fingerprint.txt"


def finished_writing(checkpoint: Path) -> bool:
    """Whether the Trainer finished saving `checkpoint`: it writes trainer_state.json last."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def drop_unfinished_checkpoints(checkpoint_dir: Path) -> list[Path]:
    """Delete the checkpoints a kill cut short while they were being saved; returns them.

    The Trainer resumes from the highest-numbered checkpoint: an unfinished one would make
    every rerun fail, rather than resume from the last finished checkpoint before it.
    """
    unfinished = [
        path
        for path in sorted(checkpoint_dir.glob("checkpoint-*"))
        if path.is_dir() and not finished_writing(path)
    ]
    for path in unfinished:
        shutil.rmtree(path)
    return unfinished


def resumable_checkpoint(checkpoint_dir: Path, fingerprint: str) -> str | None:
    """The last checkpoint of an earlier run with this fingerprint, if there is one."""
    marker = checkpoint_dir / FINGERPRINT_FILE
    if marker.is_file() and marker.read_text().strip() == fingerprint:
        return get_last_checkpoint(str(checkpoint_dir))
    return None


def start_fresh(checkpoint_dir: Path, fingerprint: str) -> None:
    """Clear checkpoints left by another run and mark the folder as this run's."""
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    checkpoint_dir.mkdir(parents=True)
    (checkpoint_dir / FINGERPRINT_FILE).write_text(fingerprint + "\n")


@dataclass(frozen=True)
class WrappedModel:
    """A VQAModel made trainable: its model wrapped by PEFT, and what the wrapping added."""

    peft_model: Any
    new_tokens: list[int]
    """Ids of the answer (and question) words added to the vocabulary."""
    trainable: int
    total: int


def wrap_for_training(
    vqa_model: VQAModel,
    train_rows: Sequence[Mapping[str, str]],
    lora: LoraParams,
    train: TrainParams,
) -> WrappedModel:
    """Grow the vocabulary by the training answers' words (`grow_for_answers`), prepare a
    quantized base for k-bit training, and wrap `vqa_model.model` with LoRA (and the trainable
    token rows) in place."""
    answers = [row["answer"] for row in train_rows]
    new_tokens = grow_for_answers(
        vqa_model,
        answers,
        [row["question"] for row in train_rows],
        min_question_count=train.question_word_min_count,
    )
    base = vqa_model.model
    if getattr(base, "is_loaded_in_4bit", False) or getattr(base, "is_loaded_in_8bit", False):
        from peft import prepare_model_for_kbit_training

        base = prepare_model_for_kbit_training(
            base, use_gradient_checkpointing=train.gradient_checkpointing
        )
    elif train.gradient_checkpointing:
        base.gradient_checkpointing_enable()
    extra = [*dict.fromkeys([*vqa_model.lora_modules_to_save, *lora.modules_to_save])]
    check_lora_targets(base, lora.target_modules, extra)  # a typo must fail, not train nothing
    config = lora_config(
        lora,
        vqa_model.lora_exclude_modules,
        modules_to_save=extra,
        trainable_token_indices=trainable_token_rows(vqa_model, new_tokens, answers),
    )
    vqa_model.model = get_peft_model(base, config)
    trainable, total = count_parameters(vqa_model.model)
    return WrappedModel(vqa_model.model, new_tokens, trainable, total)


def training_arguments(
    train: TrainParams, checkpoint_dir: Path, train_examples: int
) -> TrainingArguments:
    """The Trainer's arguments: evaluation and a checkpoint every `eval_steps`, the best by
    `train.best_by` loaded at the end, seeds from the params, nothing reported elsewhere."""
    steps_per_epoch = math.ceil(train_examples / (train.batch_size * train.grad_accum))
    total_steps = (
        train.max_steps if train.max_steps > 0 else math.ceil(steps_per_epoch * train.epochs)
    )
    precision = resolve_precision(train.precision)
    return TrainingArguments(
        output_dir=str(checkpoint_dir),
        per_device_train_batch_size=train.batch_size,
        per_device_eval_batch_size=train.batch_size,
        gradient_accumulation_steps=train.grad_accum,
        learning_rate=train.learning_rate,
        lr_scheduler_type=train.scheduler,
        weight_decay=train.weight_decay,
        num_train_epochs=train.epochs,
        max_steps=train.max_steps,
        warmup_steps=max(train.warmup_steps, int(train.warmup_ratio * total_steps)),
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        eval_strategy="steps",
        eval_steps=train.eval_steps,
        save_strategy="steps",
        save_steps=train.eval_steps,
        save_total_limit=train.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model=BEST_BY_METRIC[train.best_by],
        greater_is_better=train.best_by == "exact_match",
        logging_steps=max(1, min(10, train.eval_steps)),
        seed=train.seed,
        data_seed=train.seed,
        report_to="none",
        remove_unused_columns=False,
        dataloader_pin_memory=False,
        # Else, under DDP, the Trainer multiplies each process's loss by the process count,
        # expecting a loss summed over tokens and divided by the count of ALL processes' tokens;
        # the adapters' losses are means already, so losses and gradients came out doubled on 2
        # processes (measured: eval loss 7.06 logged for an adapter whose loss is 3.57).
        average_tokens_across_devices=False,
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
    )


BEST_BY_METRIC: dict[str, str] = {"loss": "eval_loss", "exact_match": EXACT_MATCH_KEY}
"""`train.best_by` -> the Trainer metric that picks the checkpoint kept."""


@dataclass(frozen=True)
class ValAnswering:
    """How the val questions are answered and scored when `train.best_by` is exact_match: as
    the evaluation answers and scores the test questions."""

    max_new_tokens: int = 5
    postprocess_mode: PostprocessMode = "first_word"


def training_callbacks(
    vqa_model: VQAModel,
    val_dataset: QADataset,
    *,
    train: TrainParams,
    answering: ValAnswering,
    live: Any | None,
) -> list[TrainerCallback]:
    """The val exact match (when it picks the checkpoint; before early stopping, which reads
    it), the DVCLive curves and early stopping, in the order the Trainer must call them."""
    callbacks: list[TrainerCallback] = []
    if train.best_by == "exact_match":
        callbacks.append(
            ValExactMatch(
                vqa_model,
                val_dataset.rows,
                val_dataset.images,
                batch_size=train.batch_size,
                max_new_tokens=answering.max_new_tokens,
                postprocess_mode=answering.postprocess_mode,
                log=None if live is None else partial(log_to_live, live),
            )
        )
    if live is not None:
        callbacks.append(DVCLiveCallback(live))
    if train.early_stopping_patience > 0:
        callbacks.append(
            EarlyStoppingCallback(early_stopping_patience=train.early_stopping_patience)
        )
    return callbacks


def run_trainer(
    vqa_model: VQAModel,
    args: TrainingArguments,
    datasets: tuple[QADataset, QADataset],
    *,
    callbacks: list[TrainerCallback],
    resume_from: str | None,
) -> Trainer:
    """Train the wrapped `vqa_model` on (train, val) and return the Trainer, holding the best
    checkpoint's weights. The training time is logged, not returned: it differs between machines
    and runs, and in the metrics it would make every machine's dvc.lock differ."""
    trainer = Trainer(
        model=vqa_model.model,
        args=args,
        train_dataset=datasets[0],
        eval_dataset=datasets[1],
        data_collator=training_collate(vqa_model),
        callbacks=callbacks,
    )
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume_from)
    backend = torch.distributed.get_backend() if torch.distributed.is_initialized() else "none"
    log.info(
        "process %d of %d (distributed backend: %s) trained %d steps in %.1f s",
        args.process_index,
        args.world_size,
        backend,
        trainer.state.global_step,
        time.perf_counter() - started,
    )
    return trainer


def training_metrics(
    state: Any, wrapped: WrappedModel, train: TrainParams, examples: tuple[int, int]
) -> dict[str, Any]:
    """metrics/train_lora.json: sizes, steps, losses and the best checkpoint of a finished run.

    The train losses come from the log history (restored on resume) rather than the Trainer's
    return value, whose average covers only the steps run since the last resume."""
    train_losses = [entry["loss"] for entry in state.log_history if "loss" in entry]
    return {
        "trainable_parameters": wrapped.trainable,
        "total_parameters": wrapped.total,
        "trainable_fraction": round(wrapped.trainable / wrapped.total, 6),
        "steps": state.global_step,
        "epochs": round(float(state.epoch or 0), 3),
        "final_train_loss": round(float(train_losses[-1]), 6) if train_losses else None,
        **_best_metrics(state, train.best_by),
        "best_checkpoint_step": _step_of(state.best_model_checkpoint),
        "precision": resolve_precision(train.precision),
        "train_examples": examples[0],
        "val_examples": examples[1],
        "added_tokens": len(wrapped.new_tokens),
    }


def train_lora(
    vqa_model: VQAModel,
    train_dataset: QADataset,
    val_dataset: QADataset,
    *,
    lora: LoraParams,
    train: TrainParams,
    checkpoint_dir: Path,
    resume_from: str | None = None,
    live: Any | None = None,
    answering: ValAnswering = ValAnswering(),
) -> TrainResult:
    """Wrap `vqa_model.model` with LoRA and train it; returns the best model and its metrics.

    Every word of the training answers becomes one token first (`wrap_for_training`); the
    output rows of the answer words and the new words' embeddings train with the LoRA weights.
    `resume_from` is a checkpoint of the same run to continue (see `prepare_checkpoints`);
    `answering` answers the val questions when they pick the checkpoint (`train.best_by`).
    """
    torch.manual_seed(train.seed)
    if train.blank_image_rate > 0:
        train_dataset = QADataset(
            *with_blank_images(
                train_dataset.rows, train_dataset.images, train.blank_image_rate, train.seed
            )
        )
    wrapped = wrap_for_training(vqa_model, train_dataset.rows, lora, train)
    args = training_arguments(train, checkpoint_dir, len(train_dataset))
    callbacks = training_callbacks(
        vqa_model, val_dataset, train=train, answering=answering, live=live
    )
    trainer = run_trainer(
        vqa_model, args, (train_dataset, val_dataset), callbacks=callbacks, resume_from=resume_from
    )
    examples = (len(train_dataset), len(val_dataset))
    metrics = training_metrics(trainer.state, wrapped, train, examples)
    return TrainResult(model=trainer.model, metrics=metrics, processor=vqa_model.processor)


def _best_metrics(state: Any, best_by: str) -> dict[str, float | None]:
    """The kept checkpoint's val loss, and its val exact match when that chose it."""
    best = state.best_metric
    if best_by == "loss":
        return {"best_eval_loss": round(float(best), 6) if best is not None else None}
    step = _step_of(state.best_model_checkpoint)
    losses = [e["eval_loss"] for e in state.log_history if "eval_loss" in e and e["step"] == step]
    return {
        "best_eval_loss": round(float(losses[-1]), 6) if losses else None,
        "best_eval_exact_match": round(float(best), 6) if best is not None else None,
    }


def _step_of(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    return int(Path(checkpoint).name.rsplit("-", 1)[-1])


# --- one run of the stage: what it resumes, what it keeps ------------------------------------

NOT_SHAPING_TRAINING: tuple[str, ...] = ("resume", "launcher")
"""train params that do not change the trained weights: left out of the run's fingerprint."""


def run_fingerprint(params: Params, data_files: Sequence[Path]) -> str:
    """`training_fingerprint` of a stage run: model, LoRA and training params (all but
    NOT_SHAPING_TRAINING), the answers' post-processing (it scores the val answers that can pick
    the checkpoint), the data files' bytes and the local base model's weights."""
    settings = {
        "model": dataclasses.asdict(params.model),
        "answers": params.answers.postprocess,
        "lora": dataclasses.asdict(params.lora),
        "train": {
            k: v
            for k, v in dataclasses.asdict(params.train).items()
            if k not in NOT_SHAPING_TRAINING
        },
    }
    base_weights = sorted(Path(params.model.base).glob("*.safetensors"))  # none for a hub id
    return training_fingerprint(settings, [*data_files, *base_weights])


def process_state() -> PartialState:
    """accelerate's state of this process (one per process, created on the first call).

    cpu=True on a machine without CUDA, as the Trainer's own state: otherwise accelerate sees no
    distributed run on the CPU, and every process of `accelerate launch` acts as the main one.
    """
    return PartialState(cpu=not torch.cuda.is_available())


def is_main_process() -> bool:
    """Whether this process writes files: always, except the other processes under
    `accelerate launch`, which run the same script."""
    return process_state().is_main_process


def prepare_checkpoints(
    checkpoint_dir: Path, live_dir: Path, fingerprint: str, *, resume: bool
) -> str | None:
    """Get `checkpoint_dir` ready for a run; returns the checkpoint to resume from, if any.

    With `resume`, checkpoints a kill cut short are dropped and the last finished one of an
    earlier run with this `fingerprint` is resumed; otherwise (or with none) the folder starts
    afresh. The DVCLive folder is cleared (a resumed run replays its history into it). Under
    `accelerate launch` only the main process touches files, and all processes agree on the
    result.
    """
    state = process_state()
    if state.is_main_process and resume:
        for path in drop_unfinished_checkpoints(checkpoint_dir):
            log.warning("dropped the unfinished checkpoint %s", path)
    state.wait_for_everyone()  # the main process has tidied before anyone looks
    resume_from = resumable_checkpoint(checkpoint_dir, fingerprint) if resume else None
    state.wait_for_everyone()  # all have looked before the main process may clear the folder
    if state.is_main_process:
        shutil.rmtree(live_dir, ignore_errors=True)
        if resume_from:
            log.info("resuming the interrupted run from %s", resume_from)
        else:
            start_fresh(checkpoint_dir, fingerprint)
    state.wait_for_everyone()
    return resume_from


def save_adapter(result: TrainResult, adapter_dir: Path) -> None:
    """Write the trained adapter and its processor afresh."""
    shutil.rmtree(adapter_dir, ignore_errors=True)
    for config in result.model.peft_config.values():
        # PEFT expands "all-linear" into a set, saved in the process's hash order: sort it so
        # that the same training gives a byte-identical adapter (and the same DVC hash).
        if isinstance(config.target_modules, set):
            config.target_modules = sorted(config.target_modules)
    result.model.save_pretrained(str(adapter_dir))
    if result.processor is not None:
        result.processor.save_pretrained(str(adapter_dir))


def finish_run(checkpoint_dir: Path) -> None:
    """Delete a finished run's checkpoints: they exist to resume an interrupted run, and
    keeping them would make a forced rerun "resume" a run that is already over."""
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
