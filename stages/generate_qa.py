"""Stage generate_qa: filtered listings → QA table (data/qa/qa.csv) with the chosen provider, and
every dropped pair with its reason (data/qa/rejected.csv)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from abo_vqa.io import read_jsonl, write_csv, write_json
from abo_vqa.params import load_params
from abo_vqa.qa import make_provider
from abo_vqa.qa.base import QA_COLUMNS, REJECTED_COLUMNS
from abo_vqa.qa.dataset import build_qa_table
from abo_vqa.stage import run_stage

log = logging.getLogger("generate_qa")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="QA CSV to write")
    parser.add_argument("--rejected", type=Path, required=True, help="dropped pairs CSV to write")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_params(args.params)
    images_root = Path(params.data.abo_root) / "images" / "small"
    listings = list(read_jsonl(args.listings))
    # A declared DVC output: it must exist even for providers that cache nothing.
    Path(params.generate_qa.cache_dir).mkdir(parents=True, exist_ok=True)
    provider = make_provider(params.generate_qa, images_root)
    run = provider.run(listings)
    table = build_qa_table(
        listings,
        run,
        provider=provider.name,
        question_types=params.generate_qa.question_types,
        drop_unrequested_types=params.generate_qa.drop_unrequested_types,
    )
    write_csv(args.out, table.rows, QA_COLUMNS)
    write_csv(args.rejected, (r.as_row() for r in table.rejected), REJECTED_COLUMNS)
    write_json(args.metrics, table.metrics)
    log.info(
        "%d listings → %d QA pairs for %d images (%s); %d dropped, listed in %s",
        len(listings),
        len(table.rows),
        table.metrics["images_with_qa"],
        provider.name,
        sum(table.metrics["rejected"].values()),
        args.rejected,
    )


if __name__ == "__main__":
    run_stage(main)
