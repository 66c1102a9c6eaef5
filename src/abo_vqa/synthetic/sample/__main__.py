"""Command line:
`python -m abo_vqa.synthetic.sample --out data/abo_sample [--seed 0] [--listings 600]`.

Writes the sample and prints its summary as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from abo_vqa.stage import ArgumentParser
from abo_vqa.synthetic.sample.writer import generate_sample


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m abo_vqa.synthetic.sample", description=__doc__)
    parser.add_argument("--out", required=True, help="output folder (created or replaced)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--listings", type=int, default=600, help="listing lines to write")
    args = parser.parse_args(argv)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        parser.exit(2, f"{parser.prog}: error: --out {args.out} is a file, not a folder\n")
    try:
        summary = generate_sample(args.out, seed=args.seed, n_listings=args.listings)
    except (ValueError, FileExistsError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    json.dump(summary, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
