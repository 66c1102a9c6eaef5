"""Stage split: QA table → train/val/test CSVs with no image, no item and no near-duplicate image
(a re-encoded, resized or re-framed copy of one photo under another image id) in two splits."""

from __future__ import annotations

import logging
from pathlib import Path

from abo_vqa import abo, split
from abo_vqa.image_hash import NearDuplicateRule
from abo_vqa.io import read_csv, write_csv, write_json
from abo_vqa.qa.base import QA_COLUMNS
from abo_vqa.stage import run_stage, stage_arguments

log = logging.getLogger("split")


def main() -> None:
    args, all_params = stage_arguments(__doc__, ("--qa", "--out", "--metrics"))
    params = all_params.split
    rows = read_csv(args.qa, required=QA_COLUMNS)
    fractions = {"train": params.train, "val": params.val, "test": params.test}
    rule = NearDuplicateRule(
        params.near_duplicate_max_distance, params.near_duplicate_max_colour_difference
    )
    images, pairs = None, []
    if params.near_duplicates:
        images_root = abo.images_dir(all_params.data.abo_root)
        images = split.sign_images(split.image_paths(rows), images_root, args.qa)
        pairs = split.near_duplicate_pairs(images, rule)
    assignment = split.assign_splits(rows, fractions, params.seed, pairs)
    for name in split.SPLIT_NAMES:
        members = [row for row, split in zip(rows, assignment, strict=True) if split == name]
        write_csv(args.out / f"{name}.csv", members, QA_COLUMNS)
    metrics = split.split_metrics(rows, assignment)
    metrics["near_duplicates"] = (
        split.near_duplicate_report(images, rows, assignment, pairs, rule)
        if images is not None
        else {"skipped": "split.near_duplicate_max_distance is negative (off)"}
    )
    write_json(args.metrics, metrics)
    log.info(
        "split %d pairs: %s",
        len(rows),
        ", ".join(f"{n} {metrics[n]['pairs']}" for n in split.SPLIT_NAMES),
    )
    report_near_duplicates(metrics["near_duplicates"], args.metrics)


def report_near_duplicates(near: dict, metrics_path: Path) -> None:
    """Log the near-duplicate figures; fail if any near-duplicate pair crossed splits."""
    if "skipped" in near:
        log.info("near-duplicates: %s", near["skipped"])
        return
    log.info(
        "near-duplicates: %d images hashed; %d groups of copies joined what the ids kept apart "
        "(%d images); %d near-duplicate pairs across splits",
        near["images_hashed"],
        near["groups_merged"],
        near["images_in_merged_groups"],
        near["cross_split_pairs"],
    )
    if near["cross_split_pairs"]:
        raise RuntimeError(f"near-duplicate images left in two splits (a bug): {metrics_path}")


if __name__ == "__main__":
    run_stage(main)
