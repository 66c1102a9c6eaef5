"""Stage split: QA table → train/val/test CSVs with no image or item in two splits."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from abo_vqa.io import read_csv, write_csv, write_json
from abo_vqa.params import load_params
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.split import SPLIT_NAMES, assign_splits, split_metrics
from abo_vqa.stage import run_stage

log = logging.getLogger("split")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--qa", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for train/val/test.csv")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()

    params = load_params(args.params).split
    rows = read_csv(args.qa, required=QA_COLUMNS)
    fractions = {"train": params.train, "val": params.val, "test": params.test}
    assignment = assign_splits(rows, fractions, params.seed)
    for name in SPLIT_NAMES:
        members = [row for row, split in zip(rows, assignment, strict=True) if split == name]
        write_csv(args.out / f"{name}.csv", members, QA_COLUMNS)
    metrics = split_metrics(rows, assignment)
    write_json(args.metrics, metrics)
    log.info(
        "split %d pairs: %s",
        len(rows),
        ", ".join(f"{n} {metrics[n]['pairs']}" for n in SPLIT_NAMES),
    )


if __name__ == "__main__":
    run_stage(main)
