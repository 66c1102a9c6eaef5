"""Stage train_lora: LoRA fine-tuning of the base model on the train split, best by val loss."""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from dvclive import Live

from abo_vqa.evaluate import load_images
from abo_vqa.io import read_csv, write_json
from abo_vqa.models import load_vqa_model
from abo_vqa.params import load_params
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.train import QADataset, train_lora

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
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_params(args.params)
    images_root = Path(params.data.abo_root) / "images" / "small"
    train_rows = read_csv(args.splits / "train.csv", required=QA_COLUMNS)
    val_rows = read_csv(args.splits / "val.csv", required=QA_COLUMNS)
    images = load_images([*train_rows, *val_rows], images_root)

    vqa_model = load_vqa_model(
        params.model.base, family=params.model.family, dtype=params.model.dtype
    )
    shutil.rmtree(args.checkpoints, ignore_errors=True)
    shutil.rmtree(args.live, ignore_errors=True)
    # dvcyaml/save_dvc_exp off: inside a stage DVCLive must not rewrite dvc.yaml (GUIDE §4).
    with Live(dir=str(args.live), dvcyaml=False, save_dvc_exp=False, report=None) as live:
        result = train_lora(
            vqa_model,
            QADataset(train_rows, images),
            QADataset(val_rows, images),
            lora=params.lora,
            train=params.train,
            checkpoint_dir=args.checkpoints,
            live=live,
        )
    shutil.rmtree(args.adapter, ignore_errors=True)
    result.model.save_pretrained(str(args.adapter))
    write_json(args.metrics, result.metrics)
    log.info(
        "trained %d steps; best eval loss %s; %d/%d parameters trainable",
        result.metrics["steps"],
        result.metrics["best_eval_loss"],
        result.metrics["trainable_parameters"],
        result.metrics["total_parameters"],
    )


if __name__ == "__main__":
    main()
