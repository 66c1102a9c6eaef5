"""How well the split's near-duplicate grouping catches copies of a photo, and how many distinct
products it merges by mistake.

    .venv/bin/python bench/bench_near_duplicates.py [--abo-root data/abo_sample] [--plants 0]
        [--seed 0] [--distances 4,6,8,10,12] [--colours 2,4,8,255]

Takes every image the filter_metadata stage keeps from an ABO tree (the embedded sample by
default; for a larger synthetic catalogue, write one with `python -m abo_vqa.synthetic.sample
--out /tmp/catalogue --seed 1 --listings 5000` and pass `--abo-root /tmp/catalogue`), each under
its own item as in the QA table, and plants three copies of each (or of `--plants` of them, drawn
with the seed), each under a new image id and a new item id (tests/planted_copies.py):
  reencoded  saved again as JPEG at quality 30-60;
  resized    the longer side scaled to 160 px (from 256), JPEG quality 85;
  reframed   a frame of 2-8% of the longer side painted one random colour, JPEG quality 90.
For each setting (max distance in bits x max colour difference; 255 switches the colour check off)
it prints the copies grouped with their original, per kind (n of n), and the false merges: groups
that join original images the image and item ids keep apart, the images in them, and the largest
group. Then it splits the table at params.yaml's setting and counts the near-duplicate pairs left
across splits with the split's own check (must be 0). No timing: the figures are deterministic.
"""

from __future__ import annotations

import argparse
import io
import random
from collections import Counter
from pathlib import Path

from bench_paths import REPO
from PIL import Image
from planted_copies import COPY_KINDS

from abo_vqa import abo
from abo_vqa.filtering import filter_listings
from abo_vqa.image_hash import (
    ImageSignature,
    NearDuplicateRule,
    Signatures,
    read_signature,
)
from abo_vqa.params import FilterMetadataParams, load_params
from abo_vqa.split import (
    SignedImages,
    assign_splits,
    cross_split_near_duplicates,
    leakage_groups,
    near_duplicate_pairs,
)


def catalogue_rows(abo_root: Path) -> list[dict[str, str]]:
    """One QA-like row per image the filter keeps: image_id, item_id, image_path, a type."""
    kept = filter_listings(abo_root, FilterMetadataParams(max_images=10**9, workers=1)).rows
    rows = {r["image_id"]: r for r in sorted(kept, key=lambda r: (r["image_id"], r["item_id"]))}
    return [
        {"image_id": image_id, "item_id": r["item_id"], "image_path": r["image_path"]}
        | {"question_type": "color"}
        for image_id, r in rows.items()
    ]


def plant_copies(
    rows: list[dict[str, str]], images_root: Path, count: int, seed: int
) -> tuple[list[dict[str, str]], list[ImageSignature], dict[str, str]]:
    """Rows and signatures of the copies, and each copy's original image id."""
    rng = random.Random(seed)
    chosen = rows if count <= 0 else rng.sample(rows, min(count, len(rows)))
    copy_rows, signatures, original_of = [], [], {}
    for row in chosen:
        with Image.open(images_root / row["image_path"]) as image:
            original = image.convert("RGB")
        for kind, make_copy in COPY_KINDS.items():
            copy_id = f"{row['image_id']}~{kind}"
            copy_rows.append(row | {"image_id": copy_id, "item_id": f"{row['item_id']}~{kind}"})
            signatures.append(read_signature(io.BytesIO(make_copy(original, rng))))
            original_of[copy_id] = row["image_id"]
    return copy_rows, signatures, original_of


def group_numbers(rows: list[dict[str, str]], pairs: list[tuple[str, str]]) -> dict[str, int]:
    """image_id → the number of its group under the split's grouping."""
    return {
        rows[i]["image_id"]: number
        for number, group in enumerate(leakage_groups(rows, pairs))
        for i in group
    }


def score(
    rows: list[dict[str, str]], pairs: list[tuple[str, str]], original_of: dict[str, str]
) -> tuple[Counter[str], int, int, int]:
    """(copies grouped with their original per kind, false merges, their images, largest group).

    A false merge is a group that joins original images which the ids alone keep apart.
    """
    group = group_numbers(rows, pairs)
    caught = Counter(c.rsplit("~", 1)[1] for c, o in original_of.items() if group[c] == group[o])
    originals = [row for row in rows if row["image_id"] not in original_of]
    by_ids = group_numbers(originals, [])
    joined: dict[int, set[int]] = {}
    for image_id, number in by_ids.items():
        joined.setdefault(group[image_id], set()).add(number)
    false = {number for number, parts in joined.items() if len(parts) > 1}
    false_images = sum(1 for image_id in by_ids if group[image_id] in false)
    return caught, len(false), false_images, max(Counter(group.values()).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--abo-root", type=Path, default=REPO / "data/abo_sample")
    parser.add_argument("--plants", type=int, default=0, help="originals to copy; 0: all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--distances", default="4,6,8,10,12")
    parser.add_argument("--colours", default="2,4,8,255")
    args = parser.parse_args()

    params = load_params(REPO / "params.yaml").split
    images_root = abo.images_dir(args.abo_root)
    rows = catalogue_rows(args.abo_root)
    signatures = [read_signature(images_root / row["image_path"]) for row in rows]
    copy_rows, copy_signatures, original_of = plant_copies(
        rows, images_root, args.plants, args.seed
    )
    all_rows = rows + copy_rows
    images = SignedImages(
        tuple(row["image_id"] for row in all_rows), Signatures.of(signatures + copy_signatures)
    )
    planted = Counter(copy.rsplit("~", 1)[1] for copy in original_of)
    print(f"{args.abo_root}: {len(rows)} original images, copies planted: {dict(planted)}")
    kinds = " ".join(f"{kind:>13}" for kind in COPY_KINDS)
    print(f"bits colour | caught: {kinds} | false merges: groups images | largest group")
    setting = (params.near_duplicate_max_distance, params.near_duplicate_max_colour_difference)
    for distance in map(int, args.distances.split(",")):
        for colour in map(float, args.colours.split(",")):
            pairs = near_duplicate_pairs(images, NearDuplicateRule(distance, colour))
            caught, false, false_images, largest = score(all_rows, pairs, original_of)
            mark = "  <- params.yaml" if (distance, colour) == setting else ""
            print(
                f"{distance:4} {colour:6g} | caught: "
                + " ".join(f"{caught[k]:>6} of {planted[k]:<4}" for k in COPY_KINDS)
                + f" | {false:13} {false_images:6} | {largest:13}{mark}"
            )
    rule = NearDuplicateRule(*setting)
    pairs = near_duplicate_pairs(images, rule)
    assignment = assign_splits(all_rows, {"train": 0.8, "val": 0.075, "test": 0.125}, 42, pairs)
    left = cross_split_near_duplicates(images, all_rows, assignment, rule)
    print(f"split at params.yaml's setting {setting}: near-duplicate pairs across splits: {left}")


if __name__ == "__main__":
    main()
