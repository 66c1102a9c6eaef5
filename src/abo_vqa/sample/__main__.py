"""Command line: `python -m abo_vqa.sample --out data/abo_sample [--seed 0] [--listings 600]`.

Writes the sample and prints its summary as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

from abo_vqa.sample.writer import generate_sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m abo_vqa.sample", description=__doc__)
    parser.add_argument("--out", required=True, help="output folder (created or replaced)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--listings", type=int, default=600, help="listing lines to write")
    args = parser.parse_args(argv)
    try:
        summary = generate_sample(args.out, seed=args.seed, n_listings=args.listings)
    except (ValueError, FileExistsError) as error:
        parser.exit(2, f"error: {error}\n")
    json.dump(summary, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
