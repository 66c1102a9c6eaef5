"""Stage generate_qa: filtered listings → QA table (data/qa/qa.csv) with the chosen provider, and
every dropped pair with its reason (data/qa/rejected.csv)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from abo_vqa import abo
from abo_vqa.io import read_jsonl, write_csv, write_json
from abo_vqa.qa.base import QA_COLUMNS, REJECTED_COLUMNS
from abo_vqa.qa.curate import curate, stop_line
from abo_vqa.qa.estimate import estimate_run, format_estimate
from abo_vqa.qa.remote.errors import CurationError
from abo_vqa.stage import run_stage, stage_arguments

log = logging.getLogger("generate_qa")


def main() -> None:
    args, params = stage_arguments(__doc__, ("--listings", "--out", "--rejected", "--metrics"))
    images_root = abo.images_dir(params.data.abo_root)
    listings = list(read_jsonl(args.listings))
    estimate = estimate_run(params.generate_qa, listings, images_root)
    if estimate is not None:  # first, so a paid run shows its price before it starts
        print(format_estimate(estimate), file=sys.stderr, flush=True)
    # A declared DVC output: it must exist even for providers that cache nothing.
    Path(params.generate_qa.cache_dir).mkdir(parents=True, exist_ok=True)
    curation = curate(params, listings, images_root)
    table = curation.table
    write_csv(args.out, table.rows, QA_COLUMNS)
    write_csv(args.rejected, (r.as_row() for r in table.rejected), REJECTED_COLUMNS)
    write_json(args.metrics, table.metrics)
    log.info(
        "%d listings → %d QA pairs for %d images (%s); %d dropped, listed in %s",
        len(listings),
        len(table.rows),
        table.metrics["images_with_qa"],
        curation.provider,
        len(table.rejected),
        args.rejected,
    )
    if curation.stopped:  # outputs written: nothing obtained is lost, and the stage fails
        raise CurationError(stop_line(curation, len(listings)))


if __name__ == "__main__":
    run_stage(main)
