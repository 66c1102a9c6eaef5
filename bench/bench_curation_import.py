"""How much of a realistic curated-VQA CSV the csv import keeps, and whether it drops the right rows
(the planted defects).

    .venv/bin/python bench/bench_curation_import.py [--listings data/filtered/listings.jsonl]
        [--seed 0] [--csv FILE]

Writes the synthetic curation of `abo_vqa.sample.curation` over the filtered listings (or reads
`--csv`, a file that module wrote), imports it with the `csv` provider and the generate_qa
validation (`build_qa_table`, params.yaml defaults: every type kept), and prints:

- the share of the fixture's valid pairs kept (target: at least 98%), and of those kept, the
  share whose type is the fixture's `truth_type`;
- per planted defect, how many rows carry it and how many were rejected for exactly that reason
  (target: all), matched through the source line that rejected.csv records;
- the kept pairs per type and the distinct answers.

With `--csv`, the import half also runs against older code that has no rejected-pair records
(`build_qa_rows` only): it then prints the keep rate alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=Path, default=Path("data/filtered/listings.jsonl"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", type=Path, help="an existing fixture CSV (skips generation)")
    args = parser.parse_args()

    from abo_vqa.params import CsvImportParams, GenerateQAParams
    from abo_vqa.qa import dataset
    from abo_vqa.qa.csv_import import CsvImportProvider

    listings = [json.loads(line) for line in args.listings.read_text().splitlines() if line]
    with tempfile.TemporaryDirectory() as folder:
        path = args.csv
        if path is None:
            from abo_vqa.sample.curation import curation_rows, write_curation

            path = Path(folder) / "curation.csv"
            write_curation(curation_rows(listings, args.seed), path)
        with path.open(encoding="utf-8", newline="") as handle:
            fixture = list(csv.DictReader(handle))
        columns = {"image": "image_name", "question": "question", "answer": "answer",
                   "question_type": "question_type"}  # fmt: skip
        params = GenerateQAParams(provider="csv", csv=CsvImportParams(str(path), columns))
        run = CsvImportProvider(params, Path(folder)).run(listings)
        rows, metrics = dataset.build_qa_rows(
            listings, run, provider="csv", question_types=params.question_types
        )
        table = None
        if hasattr(dataset, "build_qa_table"):
            table = dataset.build_qa_table(
                listings, run, provider="csv", question_types=params.question_types
            )

    valid = [(line, row) for line, row in enumerate(fixture, 2) if not row["planted_defect"]]
    kept = {(Path(r["image_path"]).name, r["question"]): r for r in rows}
    found = [kept.get((row["image_name"], " ".join(row["question"].split()))) for _, row in valid]
    n_kept = sum(r is not None for r in found)
    right_type = sum(
        r is not None and r["question_type"] == row["truth_type"]
        for (_, row), r in zip(valid, found, strict=True)
    )
    answers = {r["answer"] for r in rows}
    print(f"fixture: {len(fixture)} rows, {len(valid)} valid pairs, {len(listings)} images")
    print(f"valid pairs kept: {n_kept}/{len(valid)} = {100 * n_kept / len(valid):.2f}%")
    print(f"kept with the fixture's type: {right_type}/{n_kept} = {100 * right_type / n_kept:.2f}%")
    print(f"QA pairs: {len(rows)}, distinct answers {len(answers)}")
    print("pairs by type: " + ", ".join(f"{t} {n}" for t, n in metrics["pairs_by_type"].items()))
    print("rejected: " + ", ".join(f"{r} {n}" for r, n in metrics["rejected"].items()))
    if table is None:
        return
    reason_at = {record.source: record.reason for record in table.rejected}
    planted: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for line, row in enumerate(fixture, 2):
        if row["planted_defect"]:
            planted[row["planted_defect"]] += 1
            right[row["planted_defect"]] += reason_at.get(f"{path}:{line}") == row["planted_defect"]
    print(
        f"planted defects rejected for their reason: {sum(right.values())}/{sum(planted.values())}"
    )
    for defect in sorted(planted):
        print(f"  {defect}: {right[defect]}/{planted[defect]}")


if __name__ == "__main__":
    main()
