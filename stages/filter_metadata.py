"""Stage filter_metadata: ABO listings → one row per kept listing and main image.

    python stages/filter_metadata.py --abo-root DATA_ROOT --out data/filtered \
        --metrics metrics/filter_metadata.json [--params params.yaml]

Writes `<out>/listings.jsonl` (kept listings, shuffled), `<out>/errors.jsonl` (unusable lines and
image files, by file and line) and the metrics JSON. The rules are in `abo_vqa.filtering`.
"""

from __future__ import annotations

import logging

from abo_vqa.filtering import filter_listings, summarise_errors, write_outputs
from abo_vqa.stage import run_stage, stage_arguments

log = logging.getLogger("filter_metadata")


def main(argv: list[str] | None = None) -> None:
    args, all_params = stage_arguments(
        __doc__.splitlines()[0], ("--abo-root", "--out", "--metrics"), argv=argv
    )
    params = all_params.filter_metadata
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
