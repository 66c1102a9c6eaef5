"""Stage train_lora: LoRA fine-tuning of the base model on the train split, best by val loss.

Survives interruption: run it again (`dvc repro`) and it resumes from the last checkpoint in
`--checkpoints` that was completely written, provided params, base model and data are unchanged
(tests/test_train_resume.py kills it and checks).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shutil
from contextlib import nullcontext
from pathlib import Path

import torch
from accelerate import PartialState
from dvclive import Live

from abo_vqa import abo
from abo_vqa.evaluate import load_images
from abo_vqa.io import read_csv, write_json
from abo_vqa.models import load_vqa_model
from abo_vqa.models.lora import bnb_config
from abo_vqa.params import QuantizeParams, load_params
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.stage import run_stage
from abo_vqa.train import (
    QADataset,
    drop_unfinished_checkpoints,
    replay_history,
    resumable_checkpoint,
    start_fresh,
    train_lora,
    training_fingerprint,
)

log = logging.getLogger("train_lora")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=Path, required=True, help="folder with train/val.csv")
    parser.add_argument("--adapter", type=Path, required=True, help="folder for the LoRA adapter")
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--live", type=Path, required=True, help="DVCLive folder (plots)")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()

    params = load_params(args.params)
    images_root = abo.images_dir(params.data.abo_root)
    train_files = [args.splits / "train.csv", args.splits / "val.csv"]
    train_rows, val_rows = (read_csv(path, required=QA_COLUMNS) for path in train_files)
    images = load_images([*train_rows, *val_rows], images_root)

    settings = {
        "model": dataclasses.asdict(params.model),
        "lora": dataclasses.asdict(params.lora),
        "train": {
            k: v
            for k, v in dataclasses.asdict(params.train).items()
            if k not in ("resume", "launcher")
        },
    }
    base_weights = sorted(Path(params.model.base).glob("*.safetensors"))  # empty for a hub id
    fingerprint = training_fingerprint(settings, [*train_files, *base_weights])
    # Under `accelerate launch` every GPU runs this script: only the main process touches files.
    # cpu=True on a machine without CUDA, as the Trainer's own state: otherwise accelerate
    # sees no distributed run on the CPU and every process would act as the main one.
    state = PartialState(cpu=not torch.cuda.is_available())
    if state.is_main_process and params.train.resume:
        for path in drop_unfinished_checkpoints(args.checkpoints):
            log.warning("dropped the unfinished checkpoint %s", path)
    state.wait_for_everyone()  # the main process has tidied before anyone looks
    resume_from = (
        resumable_checkpoint(args.checkpoints, fingerprint) if params.train.resume else None
    )
    state.wait_for_everyone()  # all have looked before the main process may clear the folder
    if state.is_main_process:
        shutil.rmtree(args.live, ignore_errors=True)
        if resume_from:
            log.info("resuming the interrupted run from %s", resume_from)
        else:
            start_fresh(args.checkpoints, fingerprint)
    state.wait_for_everyone()

    quantize_base = params.train.quantize_base
    vqa_model = load_vqa_model(
        params.model.base,
        family=params.model.family,
        dtype=params.model.dtype,
        quantization_config=None
        if quantize_base == "none"
        else bnb_config(QuantizeParams(method=quantize_base, double_quant=True)),
    )
    # dvcyaml/save_dvc_exp off: inside a stage DVCLive would otherwise rewrite the
    # project's dvc.yaml (doubling the plots) and warn.
    # Only the main process opens DVCLive: another one's Live would clear the plots as it
    # starts (wiping a resumed run's replayed history) and rewrite the summary as it ends.
    live_or_none = (
        Live(dir=str(args.live), dvcyaml=False, save_dvc_exp=False, report=None)
        if state.is_main_process
        else nullcontext()
    )
    with live_or_none as live:
        if resume_from and state.is_main_process:
            replay_history(live, resume_from)
        result = train_lora(
            vqa_model,
            QADataset(train_rows, images),
            QADataset(val_rows, images),
            lora=params.lora,
            train=params.train,
            checkpoint_dir=args.checkpoints,
            resume_from=resume_from,
            live=live,
        )
    if not state.is_main_process:
        return
    shutil.rmtree(args.adapter, ignore_errors=True)
    for config in result.model.peft_config.values():
        # PEFT expands "all-linear" into a set, saved in the process's hash order: sort it so
        # that the same training gives a byte-identical adapter (and the same DVC hash).
        if isinstance(config.target_modules, set):
            config.target_modules = sorted(config.target_modules)
    result.model.save_pretrained(str(args.adapter))
    write_json(args.metrics, result.metrics)
    # Checkpoints exist to resume an interrupted run; a finished run's are spent, and keeping
    # them would make a forced rerun "resume" a run that is already over.
    shutil.rmtree(args.checkpoints, ignore_errors=True)
    log.info(
        "trained %d steps; best eval loss %s; %d/%d parameters trainable",
        result.metrics["steps"],
        result.metrics["best_eval_loss"],
        result.metrics["trainable_parameters"],
        result.metrics["total_parameters"],
    )


if __name__ == "__main__":
    run_stage(main)
