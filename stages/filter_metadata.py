"""Stage filter_metadata: ABO listings → one row per kept listing and main image.

    python stages/filter_metadata.py --abo-root DATA_ROOT --out data/filtered \
        --metrics metrics/filter_metadata.json [--params params.yaml]

Writes `<out>/listings.jsonl` (kept listings, shuffled), `<out>/errors.jsonl` (unusable lines and
image files, by file and line) and the metrics JSON. The rules are in `abo_vqa.filtering`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from abo_vqa.filtering import filter_listings, summarise_errors, write_outputs
from abo_vqa.params import load_params
from abo_vqa.stage import run_stage

log = logging.getLogger("filter_metadata")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--abo-root", type=Path, required=True, help="root of the ABO tree")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics JSON to write")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)

    params = load_params(args.params).filter_metadata
    result = filter_listings(args.abo_root, params)

    errors_path = write_outputs(result, args.out, args.metrics)

    if result.errors:
        log.warning(summarise_errors(result.errors, str(errors_path)))
    dropped = ", ".join(f"{reason} {n}" for reason, n in result.dropped.items() if n)
    log.info(
        "read %d listings from %d shards (%d images in table): kept %d; dropped %s",
        result.listings_read,
        result.shards,
        result.images_in_table,
        result.kept,
        dropped or "none",
    )


if __name__ == "__main__":
    run_stage(main)
