"""Stage train_lora: LoRA fine-tuning of the base model on the train split, the checkpoint kept
chosen on the val split (`train.best_by`).

Survives interruption: run it again (`dvc repro`) and it resumes from the last checkpoint in
`--checkpoints` that was completely written, provided params, base model and data are unchanged
(tests/test_train_resume.py kills it and checks).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext

from dvclive import Live

from abo_vqa import abo, train
from abo_vqa.cards import write_pipeline_card
from abo_vqa.evaluate import load_images
from abo_vqa.io import read_csv, write_json
from abo_vqa.models import load_vqa_model
from abo_vqa.models.lora import bnb_config
from abo_vqa.params import QuantizeParams
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.stage import run_stage, stage_arguments

log = logging.getLogger("train_lora")


def main() -> None:
    args, params = stage_arguments(
        __doc__, ("--splits", "--adapter", "--checkpoints", "--live", "--metrics"), runs_models=True
    )
    images_root = abo.images_dir(params.data.abo_root)
    train_files = [args.splits / "train.csv", args.splits / "val.csv"]
    train_rows, val_rows = (read_csv(path, required=QA_COLUMNS) for path in train_files)
    images = load_images([*train_rows, *val_rows], images_root)
    resume_from = train.prepare_checkpoints(
        args.checkpoints,
        args.live,
        train.run_fingerprint(params, train_files),
        resume=params.train.resume,
    )

    quantize_base = params.train.quantize_base
    vqa_model = load_vqa_model(
        params.model.base,
        family=params.model.family,
        dtype=params.model.dtype,
        quantization_config=None
        if quantize_base == "none"
        else bnb_config(
            QuantizeParams(method=quantize_base, double_quant=True), family=params.model.family
        ),
    )
    # dvcyaml/save_dvc_exp off: inside a stage DVCLive would otherwise rewrite the
    # project's dvc.yaml (doubling the plots) and warn. Only the main process opens DVCLive:
    # another one's Live would clear the plots as it starts (wiping a resumed run's replayed
    # history) and rewrite the summary as it ends.
    main_process = train.is_main_process()
    live_or_none = (
        Live(dir=str(args.live), dvcyaml=False, save_dvc_exp=False, report=None)
        if main_process
        else nullcontext()
    )
    with live_or_none as live:
        if resume_from and main_process:
            train.replay_history(live, resume_from)
        result = train.train_lora(
            vqa_model,
            train.QADataset(train_rows, images),
            train.QADataset(val_rows, images),
            lora=params.lora,
            train=params.train,
            checkpoint_dir=args.checkpoints,
            resume_from=resume_from,
            live=live,
            answering=train.ValAnswering(params.model.max_new_tokens, params.answers.postprocess),
        )
    if not train.is_main_process():
        return
    train.save_adapter(result, args.adapter)
    write_pipeline_card(args.adapter, "adapter", params)
    write_json(args.metrics, result.metrics)
    train.finish_run(args.checkpoints)
    log.info(
        "trained %d steps; best eval loss %s; %d/%d parameters trainable; %d tokens added",
        result.metrics["steps"],
        result.metrics["best_eval_loss"],
        result.metrics["trainable_parameters"],
        result.metrics["total_parameters"],
        result.metrics["added_tokens"],
    )


if __name__ == "__main__":
    run_stage(main)
